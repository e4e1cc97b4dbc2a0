# The two commands of the README: `make demo` and `make test`. Both set up .venv themselves.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
# The build backend's warnings about editable installs are noise in a demo or test log.
PIP     := PYTHONWARNINGS=ignore $(BIN)/python -m pip

.PHONY: demo test bench bench-fleet fuzz schema clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[test]'
	touch $@ $(VENV)/.installed-demo

## demo: the main job on the embedded default (example customers, SQLite live store)
demo: $(VENV)/.installed-demo
	$(BIN)/reconciler validate
	$(BIN)/reconciler plan
	$(BIN)/reconciler apply --yes
	@echo "--- plan again: the live store now matches git"
	$(BIN)/reconciler plan --detailed-exitcode

## test: the test suite, then ruff and mypy --strict on the package
test: $(VENV)/.installed-test
	$(BIN)/pytest
	$(BIN)/ruff check reconciler tests
	$(BIN)/mypy reconciler

## bench: benchmarks (not part of `make test`; figures go in the README)
bench: $(VENV)/.installed-test
	$(BIN)/pytest tests/bench -o addopts="" -o python_files="bench_*.py" -q -s

## bench-fleet: the fleet benchmark, N customers (default 10000): one table, figures for the README
N ?= 10000
bench-fleet: $(VENV)/.installed-test
	$(BIN)/python tests/bench/fleet.py --count $(N)

## fuzz: the fuzz targets for SECONDS (default 60): inputs tried, all with zero tracebacks
SECONDS ?= 60
fuzz: $(VENV)/.installed-test
	$(BIN)/python tests/fuzz/run.py --seconds $(SECONDS)

schema: $(VENV)/.installed-demo
	$(BIN)/reconciler schema

clean:
	rm -rf $(VENV) .reconciler .pytest_cache .mypy_cache .ruff_cache
