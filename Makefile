# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint install demo bench clean help

help:
	@echo "make run    create .venv, install, load the demo data into SQLite, serve on http://$(HOST):$(PORT)"
	@echo "make test   run the whole test suite (PostgreSQL too when RIGHTSDB_TEST_POSTGRES_URL is set)"
	@echo "make lint   check the code with ruff (lint and format)"
	@echo "make bench  run the benchmarks under bench/"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3 on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rightsdb demo

run: $(STAMP)
	$(BIN)/rightsdb demo
	$(BIN)/rightsdb serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis test-output
