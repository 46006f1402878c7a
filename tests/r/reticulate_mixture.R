# R users drive mixagg through reticulate: build mixtures from R lists and
# arrays, compute L2 distances, read results back as R objects.
# Usage: Rscript reticulate_mixture.R /path/to/python
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(reticulate))
use_python(args[1], required = TRUE)
ma <- import("mixagg")

# K x d x d covariance array, K x d mean matrix (rows = components)
covs <- array(0, dim = c(2, 2, 2))
covs[1, , ] <- matrix(c(1.0, 0.3, 0.3, 0.5), 2, 2)
covs[2, , ] <- matrix(c(2.0, -0.4, -0.4, 1.0), 2, 2)
G <- ma$MixingDistribution("gaussian", c(0.4, 0.6), list(mean = rbind(c(0, 0), c(3, 1)), cov = covs))
H <- ma$MixingDistribution$from_dict(list(
  family = list(name = "gaussian", d = 2),   # d arrives as a double
  weights = 1,                               # a length-1 vector arrives as a scalar
  params = list(mean = c(1, 1), cov = diag(2))
))
D <- ma$l2_distance_matrix(list(G, H, G$to_dict()))
stopifnot(is.matrix(D), all(dim(D) == c(3, 3)), D[1, 3] == 0)
d <- G$to_dict()
stopifnot(d$family$name == "gaussian", length(d$weights) == 2)
cat(sprintf("D12 %.15g\n", D[1, 2]))
cat(sprintf("logpdf %.15g\n", G$logpdf(c(0.5, -0.2))))

# errors surface in R with the Python message
msg <- tryCatch(ma$MixingDistribution("poisson", c(0.5, 0.6), list(rate = c(1, 2))), error = function(e) conditionMessage(e))
cat(sprintf("error %s\n", grepl("weights must sum to 1", msg)))
