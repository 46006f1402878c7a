# The README's two commands: `make demo` and `make test`. Each sets itself up
# on a fresh Debian machine (virtualenv, pip installs, and for `make test` as
# root: R with mclust and reticulate from Debian's packages).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
R_PACKAGES := r-base-core r-base-dev r-cran-reticulate r-cran-mclust
# The test environment differs with and without R (rpy2 needs R to build);
# the stamp records which one was installed. Evaluated after `r-deps` ran,
# because `test` re-invokes make.
HAVE_R := $(if $(shell command -v R 2>/dev/null),with-r,without-r)
TEST_STAMP := $(VENV)/.installed-test-$(HAVE_R)

.PHONY: demo test test-run bench r-deps clean

demo: $(VENV)/.installed
	$(PY) -m mixagg demo

test: r-deps
	@$(MAKE) --no-print-directory test-run

test-run: $(TEST_STAMP)
	@$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit code 5): failing" >&2; fi; \
	exit $$rc

bench: $(TEST_STAMP)
	$(PY) benchmarks/bench_l2.py
	$(PY) benchmarks/bench_em.py
	$(PY) benchmarks/bench_aggregate.py
	$(PY) benchmarks/bench_theory.py
	$(PY) benchmarks/bench_mixsim.py
	$(PY) benchmarks/bench_engine.py

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

$(TEST_STAMP): $(VENV)/bin/python pyproject.toml
	$(PIP) install --quiet -e ".[dev,dask]"
	@if [ "$(HAVE_R)" = with-r ]; then \
	  $(PIP) install --quiet -e ".[r]" || echo "WARNING: installing rpy2 failed; R tests will be skipped (is r-base-dev installed?)"; \
	fi
	@rm -f $(VENV)/.installed-test-*
	@touch $@

r-deps:
	@if command -v Rscript >/dev/null 2>&1 && Rscript -e 'quit(status = !all(c("mclust", "reticulate") %in% rownames(installed.packages())))' >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing R from Debian's packages: $(R_PACKAGES)"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(R_PACKAGES); \
	else \
	  echo "NOTE: R (with mclust and reticulate) is missing and this is not root; R tests will be skipped."; \
	  echo "      To run them: sudo apt-get install -y $(R_PACKAGES), then make test"; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
