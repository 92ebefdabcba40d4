# fmltc: reproduce FMLTC-IDS. `make help` lists the targets.
#
# Variables you may set on the command line:
#   PROFILE=default|paper   size of the reproduction (default: default, offline simulator)
#   DATA_DIR=<folder>       run on the real datasets found there instead of the simulator
#   PYTHON=python3.11       the interpreter used to create .venv

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
PROFILE  ?= default
DATA_DIR ?=
# The real dataset samples used by the tests; override with FMLTC_DATA_DIR=...
FMLTC_DATA_DIR ?= $(abspath ../shared/data)
export FMLTC_DATA_DIR
# The models are tiny: one thread per process is 2-4x faster than two
# contending threads on a 2-core machine (measured; see README).
OMP_NUM_THREADS ?= 1
export OMP_NUM_THREADS

STAMP := $(VENV)/.installed

.PHONY: help setup test reproduce bench bench-quick lint format lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv with the pinned dependencies (requirements.lock)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

test: $(STAMP)  ## run the test suite (notebooks included, with small parameters)
	$(PY) -m pytest

reproduce: $(STAMP)  ## run every notebook headless; outputs go to figures/ (PROFILE=, DATA_DIR=)
	$(PY) -m fmltc_core.reproduce --profile $(PROFILE) $(if $(DATA_DIR),--data-dir $(DATA_DIR),)

bench: $(STAMP)  ## print the speed and memory benchmarks; writes figures/benchmarks.{csv,md}
	$(PY) -m fmltc_core.bench

bench-quick: $(STAMP)  ## every benchmark once on small inputs (smoke test; runs/bench-quick/)
	$(PY) -m fmltc_core.bench --quick

lint: $(STAMP)  ## ruff check of the package and tests
	$(PY) -m ruff check fmltc_core tests

format: $(STAMP)  ## ruff format of the package and tests
	$(PY) -m ruff format fmltc_core tests

lock:  ## regenerate requirements.lock from requirements.in in a scratch venv
	rm -rf /tmp/fmltc-lock && $(PYTHON) -m venv /tmp/fmltc-lock
	/tmp/fmltc-lock/bin/pip install --quiet -r requirements.in
	/tmp/fmltc-lock/bin/pip freeze | sed 's/^torch==\(.*\)+cpu$$/torch==\1/' > requirements.lock

clean:  ## remove .venv, run folders and caches (figures/ is kept)
	rm -rf $(VENV) runs .pytest_cache
