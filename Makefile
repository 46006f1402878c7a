# The README's two commands: `make demo` and `make test`. Each sets itself up
# on a fresh Debian machine (virtualenv, pip installs, and for `make test` as
# root: R with mclust, flexmix and reticulate from Debian's packages).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
R_PACKAGES := r-base-core r-base-dev r-cran-reticulate r-cran-mclust r-cran-flexmix
# The test environment differs with and without R (rpy2 needs R to build);
# the stamp records which one was installed. Evaluated after `r-deps` ran,
# because `test` re-invokes make.
HAVE_R := $(if $(shell command -v R 2>/dev/null),with-r,without-r)
TEST_STAMP := $(VENV)/.installed-test-$(HAVE_R)

# The other configurations CI checks besides `make test` (results must not depend on them): NumPy 2 in a
# second environment without the R extra, and other BLAS kernels and thread counts in the main one.
VENV_NUMPY2 := .venv-numpy2
NUMERIC_TESTS := tests/families tests/theory tests/test_reduction.py tests/test_robust.py tests/test_distances.py \
	tests/test_metrics.py tests/test_mixture.py tests/test_attacks.py tests/test_aggregate_rejected.py tests/test_em.py
# A baseline OpenBLAS kernel of the machine's architecture (DYNAMIC_ARCH builds, as in NumPy's wheels).
BLAS_CORETYPE := $(or $(if $(filter x86_64,$(shell uname -m)),Prescott),$(if $(filter aarch64,$(shell uname -m)),ARMV8))

.PHONY: demo test test-run lint test-configs test-numpy2 test-blas bench r-deps clean

demo: $(VENV)/.installed
	$(PY) -m mixagg demo

test: r-deps
	@$(MAKE) --no-print-directory test-run

# The style is enforced with the tests: a lint failure fails the run (after the tests have run).
test-run: $(TEST_STAMP)
	@echo "== ruff check and ruff format --check"; \
	$(PY) -m ruff check . && $(PY) -m ruff format --check .; lint=$$?; \
	export MIXAGG_EXPECT_R=$$(test -f $(VENV)/.r-extra && echo 1); \
	$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit code 5): failing" >&2; fi; \
	if [ $$lint -ne 0 ]; then echo "ruff found style problems (see above): failing" >&2; [ $$rc -ne 0 ] || rc=1; fi; \
	exit $$rc

lint: $(TEST_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test-configs: test-numpy2 test-blas

test-numpy2: $(VENV_NUMPY2)/.installed
	@echo "== the whole suite with NumPy 2 and without the R extra"
	$(VENV_NUMPY2)/bin/python -m pytest -q -p no:cacheprovider

test-blas: $(TEST_STAMP)
	@echo "== numerical tests on one thread$(if $(BLAS_CORETYPE), with OpenBLAS's $(BLAS_CORETYPE) kernels)"
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(if $(BLAS_CORETYPE),OPENBLAS_CORETYPE=$(BLAS_CORETYPE)) \
	MIXAGG_EXPECT_R=$$(test -f $(VENV)/.r-extra && echo 1) $(PY) -m pytest -q -p no:cacheprovider $(NUMERIC_TESTS)

$(VENV_NUMPY2)/.installed: pyproject.toml
	rm -rf $(VENV_NUMPY2) && $(PYTHON) -m venv $(VENV_NUMPY2) && $(VENV_NUMPY2)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_NUMPY2)/bin/python -m pip install --quiet -e ".[dev,dask]" "numpy>=2"
	@touch $@

bench: $(TEST_STAMP)
	$(PY) benchmarks/bench_l2.py
	$(PY) benchmarks/bench_structures.py
	$(PY) benchmarks/bench_em.py
	$(PY) benchmarks/bench_aggregate.py
	$(PY) benchmarks/bench_theory.py
	$(PY) benchmarks/bench_mixsim.py
	$(PY) benchmarks/bench_engine.py
	$(PY) benchmarks/bench_cli.py
	$(PY) benchmarks/bench_adversarial.py --quick

$(VENV)/bin/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV); \
	  else echo "'$(PYTHON) -m venv' failed: install python3-venv (sudo apt-get install python3-venv)" >&2; exit 1; fi; }
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PIP) install --quiet -e .
	@touch $@

# With R, the `r` extra (rpy2, NumPy 1.x) is installed; as root, where `r-deps` installed r-base-dev, its failure
# fails the run (elsewhere R tests are skipped with a warning). `.r-extra` tells pytest that R must be usable.
$(TEST_STAMP): $(VENV)/bin/python pyproject.toml
	$(PIP) install --quiet -e ".[dev,dask]"
	@rm -f $(VENV)/.installed-test-* $(VENV)/.r-extra
	@if [ "$(HAVE_R)" = with-r ]; then \
	  if $(PIP) install --quiet -e ".[r]"; then touch $(VENV)/.r-extra; \
	  elif [ "$$(id -u)" = 0 ]; then echo "ERROR: installing the R extra (rpy2) failed although R is installed" >&2; exit 1; \
	  else echo "WARNING: installing rpy2 failed; R tests will be skipped (is r-base-dev installed?)"; fi; \
	fi
	@touch $@

r-deps:
	@if command -v Rscript >/dev/null 2>&1 && Rscript -e 'quit(status = !all(c("mclust", "reticulate", "flexmix") %in% rownames(installed.packages())))' >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing R from Debian's packages: $(R_PACKAGES)"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(R_PACKAGES); \
	else \
	  echo "NOTE: R (with mclust, flexmix and reticulate) is missing and this is not root; R tests will be skipped."; \
	  echo "      To run them: sudo apt-get install -y $(R_PACKAGES), then make test"; \
	fi

clean:
	rm -rf $(VENV) $(VENV_NUMPY2) build *.egg-info .pytest_cache .hypothesis
