# The two commands a newcomer needs:  make demo  and  make test.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,postgres

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	# bytecode for src/ now, as a non-editable install would: with PYTHONDONTWRITEBYTECODE=1 (set
	# on some machines) every process would otherwise recompile every skloop module it imports
	$(BIN)/python -m compileall -q src
	touch $@

demo: $(BIN)/.installed  ## the whole loop on the bundled example
	$(BIN)/skloop demo

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports
	# mypy --strict on src/ ([tool.mypy] in pyproject.toml)
	$(BIN)/mypy

test: lint  ## ruff, layer contracts, mypy strict, the docstrings' examples, then the test suite
	$(BIN)/python -m pytest -q --doctest-modules src/skloop --ignore=src/skloop/store/migrations
	$(BIN)/python -m pytest -q --numprocesses auto --maxprocesses 4 --dist loadfile

bench: $(BIN)/.installed
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/bench_tracking.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
