# An R user fits a data.frame of mixed columns through reticulate: numeric columns become a Gaussian block,
# integer counts Poisson, logicals Bernoulli and factors Categorical; the column names come back in the estimate.
# Usage: Rscript reticulate_frame.R /path/to/python
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(reticulate))
use_python(args[1], required = TRUE)
ma <- import("mixagg")

set.seed(1)
n <- 600
half <- n / 2
df <- data.frame(
  height = c(rnorm(half, 0), rnorm(half, 4)),
  visits = c(rpois(half, 2), rpois(half, 9)),
  smoker = c(runif(half) < 0.2, runif(half) < 0.8),
  region = factor(sample(c("north", "south", "east"), n, replace = TRUE), levels = c("north", "south", "east"))
)
fit <- ma$fit_mixture(r_to_py(df), "auto", 2L, rng = 0L, n_init = 3L)
d <- fit$to_dict()
cat("columns", paste(unlist(d$family$columns), collapse = ","), "\n")
cat("params", paste(names(d$params), collapse = ","), "\n")
cat("levels", unlist(d$family$blocks[[3]]$levels), "\n")
cat("rates", paste(sort(unlist(d$params[["visits.rate"]])), collapse = ","), "\n")
