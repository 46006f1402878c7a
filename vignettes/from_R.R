#!/usr/bin/env Rscript
# mixagg from R, through reticulate
# =================================
#
# The whole split-and-conquer pipeline driven from R: simulate a benchmark Gaussian
# mixture with MixSim's algorithm (`ma$mixsim`), split a sample over m machines, fit a
# mixture on each machine, let some machines fail arbitrarily (Byzantine mean failures),
# aggregate with DFMR and compare it with vanilla mixture reduction, COAT and the oracle
# that knows which machines failed.
#
# Setup (once): `make test` or `make demo` builds the project's virtualenv `.venv`. Point
# reticulate at it, either with `Rscript vignettes/from_R.R /path/to/mixagg/.venv/bin/python`
# or by setting RETICULATE_PYTHON=/path/to/mixagg/.venv/bin/python before starting R.
# Debian's reticulate 1.28 needs NumPy 1.x in that Python (the `r` extra pins it).
# Run it outside the project directory: reticulate 1.28 mistakes the project's
# pyproject.toml for a Poetry project and warns.
#
# R numbers are doubles: `K = 3` arrives in Python as 3.0, which mixagg accepts wherever an
# integer is expected (3.5 would raise). Matrices stay matrices (rows = observations or
# components), covariances come back as lists of matrices, and every `to_dict()` is a named list.
# Runtime: about 15 s.

args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(reticulate))
if (length(args) >= 1) use_python(args[1], required = TRUE)
ma <- import("mixagg")

# ---- 1. the truth: K = 3 components in p = 2 dimensions, maximum pairwise overlap 0.05
K <- 3; p <- 2; m <- 20; n_local <- 1000; alpha <- 0.2
sim <- ma$mixsim(K, p, max_omega = 0.05, seed = 1)
truth <- sim$mixture
cat(sprintf("MixSim (%s back-end): MaxOmega = %.6f, BarOmega = %.6f, pair %s\n",
            sim$backend, sim$max_omega, sim$bar_omega, paste(unlist(sim$rc_max) + 1, collapse = "-")))
S <- sim$covariances                          # a list of K p x p matrices
stopifnot(is.list(S), length(S) == K, all(dim(S[[1]]) == c(p, p)), is.matrix(sim$omega_map))

# ---- 2. split: m machines with n_local observations each (one seed per machine)
X <- truth$sample(m * n_local, rng = 2)        # an (m n_local) x p matrix
machine <- rep(seq_len(m), each = n_local)
fits <- lapply(seq_len(m), function(k) ma$fit_mixture(X[machine == k, , drop = FALSE], "gaussian", K, rng = k))

# ---- 3. Byzantine failures: a fraction alpha of the machines send arbitrary means
attacked <- ma$attacks$mean_failure(fits, alpha, rng = 3)
estimates <- attacked[[1]]
failed <- attacked[[2]]                        # a logical vector, TRUE = failed machine
cat(sprintf("failed machines: %s\n", paste(which(failed), collapse = " ")))

# ---- 4. aggregate on the server and compare on held-out data
X_test <- truth$sample(5000, rng = 4)
results <- list(
  vanilla = ma$aggregate(estimates, "vanilla"),
  coat = ma$aggregate(estimates, "coat"),
  dfmr = ma$aggregate(estimates, "dfmr", rho = 1.3),
  oracle = ma$aggregate(estimates, "oracle", failure_free = !failed)
)
table <- data.frame(
  method = names(results),
  W1 = sapply(results, function(r) ma$metrics$w1(r$mixture, truth)),
  ARI = sapply(results, function(r) ma$metrics$ari(r$mixture, truth, X_test)),
  kept = sapply(results, function(r) length(r$selected)),
  row.names = NULL
)
print(table, digits = 4)

# every result converts to a named R list
d <- results$dfmr$to_dict()
stopifnot(is.list(d), d$method == "dfmr", length(d$selected) == table$kept[table$method == "dfmr"])

# machine-readable lines (the test suite compares them with the same computation in Python)
for (i in seq_len(nrow(table))) {
  cat(sprintf("RESULT %s %.12e %.12e %d\n", table$method[i], table$W1[i], table$ARI[i], table$kept[i]))
}
cat(sprintf("TRUTH %.12e %.12e\n", sim$max_omega, sim$bar_omega))
