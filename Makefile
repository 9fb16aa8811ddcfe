# relapse-model: every target creates .venv (Python >= 3.12) and installs the locked dependencies first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# make test and make test-fast run the tests on this many pytest-xdist workers; each test file
# stays on one worker (--dist loadfile), so its module fixtures (fits) are made once. WORKERS=0: one process.
WORKERS ?= 2
XDIST = -n $(WORKERS) --dist loadfile

# Keep compile caches, figures' font caches and temporary files inside the ignored .cache/ folder.
export PYTENSOR_FLAGS ?= base_compiledir=$(CURDIR)/.cache/pytensor
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba
export MPLCONFIGDIR ?= $(CURDIR)/.cache/matplotlib
export MPLBACKEND ?= Agg

.PHONY: demo test test-fast test-extended bench sbc cohorts lock clean venv

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml scripts/find-python
	@set -e; \
	if [ ! -x $(PY) ]; then \
		python=$$(scripts/find-python); \
		echo "make: creating $(VENV) with $$python"; \
		"$$python" -m venv $(VENV); \
	fi; \
	echo "make: upgrading pip in $(VENV)"; \
	$(PY) -m pip install -qq --upgrade pip; \
	echo "make: installing the locked dependencies of requirements.lock (PyMC, ArviZ, scikit-survival, ...; a few minutes the first time)"; \
	$(PY) -m pip install -qq -r requirements.lock; \
	echo "make: installing relapse-model itself (editable)"; \
	$(PY) -m pip install -qq --no-deps --no-build-isolation -e .; \
	echo "make: set-up done"; \
	mkdir -p .cache; \
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/relapse-model demo

# What CI runs: everything but the extended tests, on 2 workers (7-12 minutes measured on a fresh
# clone with empty compile caches on an otherwise idle 2-core machine, about 20 under load;
# README, Development).
test: $(STAMP)
	$(PY) -m pytest $(XDIST) -m "not extended" $(PYTEST_ARGS)

# The longest runs (minutes each), outside the test budget: full-length forms of checks that
# make test runs in a cheaper form (SBC, recovery, lifelines, cold/warm cache, demo rebuilt, the
# pathway fit's reproducibility and immortal-time check), and the pathway model's recovery and
# SBC. README, Development, lists them.
test-extended: $(STAMP)
	$(PY) -m pytest -m extended $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest $(XDIST) -m "not slow and not extended" $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks

# Full simulation-based calibration (100 replications, about 30 minutes on 2 cores).
sbc: $(STAMP)
	$(VENV)/bin/relapse-model sbc --replications 100 --out reports/build/sbc

# Regenerate the bundled reference cohorts from their committed generator and seeds.
cohorts: $(STAMP)
	$(VENV)/bin/relapse-model cohorts --regenerate

# Re-resolve requirements.lock from pyproject.toml (needs network access to PyPI).
lock:
	$(PY) -m pip install -qq uv && $(VENV)/bin/uv pip compile pyproject.toml --extra dev \
		--python-version 3.12 --universal -o requirements.lock

clean:
	rm -rf $(VENV) .cache build reports/build .pytest_cache
