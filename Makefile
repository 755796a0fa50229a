# Two commands on a fresh machine with Python 3.11 or later: `make run` and `make test`.
# Every target is listed by `make help` and in the README's table of make targets (tests/system/test_newcomer.py).
PYTHON_MIN := 3.11
# The first of these that runs and is PYTHON_MIN or later (a pyenv shim of a Python not installed does not
# run), found once and only when a recipe needs it; PYTHON=/path/to/python chooses another.
PYTHON_CANDIDATES := python3.14 python3.13 python3.12 python3.11 python3
ifeq ($(origin PYTHON),undefined)
PYTHON = $(eval PYTHON := $(shell for p in $(PYTHON_CANDIDATES); do c=$$(command -v $$p) && "$$c" -c 'import sys; sys.exit(sys.version_info < tuple(map(int, "$(PYTHON_MIN)".split("."))))' 2>/dev/null && { echo "$$c"; break; }; done))$(PYTHON)
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000
DEFAULT_DB := instance/rightsdb.sqlite

.PHONY: help run demo install check-venv test lint bench clean clean-db FORCE

# The version of an interpreter as "3.11" (empty when it does not run), and whether it is at least PYTHON_MIN.
version_of = $(shell $(1) --version 2>&1 | sed -n 's/^Python \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')
at_least_min = $(shell v='$(1)'; m='$(PYTHON_MIN)'; [ -n "$$v" ] && { [ "$${v%%.*}" -gt "$${m%%.*}" ] || { [ "$${v%%.*}" -eq "$${m%%.*}" ] && [ "$${v#*.}" -ge "$${m#*.}" ]; }; } && echo yes)

# A .venv made by another Python (too old, or one that no longer runs) is removed and made again.
ifneq ($(wildcard $(VENV)),)
VENV_VERSION := $(call version_of,$(BIN)/python)
ifeq ($(VENV_VERSION),)
VENV_PROBLEM := $(BIN)/python does not run
else ifneq ($(call at_least_min,$(VENV_VERSION)),yes)
VENV_PROBLEM := $(BIN)/python is Python $(VENV_VERSION), rightsdb needs $(PYTHON_MIN) or later
endif
endif

help:
	@echo "make run        create .venv if needed, load the demo data into SQLite, serve on http://$(HOST):$(PORT)"
	@echo "                (HOST=0.0.0.0 PORT=8080 make run to listen elsewhere)"
	@echo "make demo       load the demo data into the database (idempotent) and print the demo logins"
	@echo "make install    create .venv with Python $(PYTHON_MIN)+ and install rightsdb with its test tools (PYTHON=... to choose)"
	@echo "make check-venv say whether .venv's Python is usable; make install recreates it when it is not"
	@echo "make test       run the whole test suite (PostgreSQL too when RIGHTSDB_TEST_POSTGRES_URL is set; PYTEST_ARGS=...)"
	@echo "make lint       check the code with ruff (lint and format)"
	@echo "make bench      run the benchmarks under bench/; fails if any figure misses its target"
	@echo "make clean      remove .venv, caches and test output (never the database)"
	@echo "make clean-db   delete the default database $(DEFAULT_DB), after asking (CONFIRM=yes: no question)"
	@echo "make help       this list"

$(STAMP): pyproject.toml constraints.txt $(if $(VENV_PROBLEM),FORCE)
	@test -n "$(PYTHON)" || { echo "Python $(PYTHON_MIN) or later is needed: none of $(PYTHON_CANDIDATES) on PATH runs and is $(PYTHON_MIN)+; install one, or run make PYTHON=/path/to/python3.11 ..."; exit 1; }
	@test "$(call at_least_min,$(call version_of,$(PYTHON)))" = yes || { echo "$(PYTHON) is $(if $(call version_of,$(PYTHON)),Python $(call version_of,$(PYTHON)),not a Python that runs); rightsdb needs $(PYTHON_MIN) or later: make PYTHON=/path/to/python3.11 ..."; exit 1; }
ifneq ($(VENV_PROBLEM),)
	@echo "$(VENV_PROBLEM): recreating $(VENV) with $(PYTHON)"
	rm -rf $(VENV)
endif
	$(PYTHON) -m venv $(VENV)
	@echo "Installing rightsdb and its dependencies into $(VENV) (first run: about 2 minutes)"
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e '.[test]'
	@touch $(STAMP)

FORCE:

install: $(STAMP)

check-venv:
ifneq ($(VENV_PROBLEM),)
	@echo "$(VENV_PROBLEM): make install (or run, test, ...) will recreate $(VENV)"; exit 1
else ifeq ($(wildcard $(VENV)),)
	@echo "no $(VENV) yet: make install (or run, test, ...) will create it"
else
	@echo "$(BIN)/python is Python $(VENV_VERSION): usable"
endif

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

# Build artefacts, the virtualenv and caches only: the database is clean-db's, and asks first.
clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache test-output *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-db:
	@if [ ! -e $(DEFAULT_DB) ]; then echo "No database to delete: $(DEFAULT_DB) does not exist."; exit 0; fi; \
	if [ "$(CONFIRM)" != yes ]; then \
	  printf '%s' "Delete the database $(DEFAULT_DB) and everything in it? Type yes to delete: "; \
	  read answer || answer=; \
	  if [ "$$answer" != yes ]; then echo; echo "Nothing deleted (answer yes, or run make clean-db CONFIRM=yes)."; exit 1; fi; \
	fi; \
	rm -f $(DEFAULT_DB) $(DEFAULT_DB)-wal $(DEFAULT_DB)-shm $(DEFAULT_DB)-journal; \
	echo "Deleted $(DEFAULT_DB); make run or make demo creates it again with the demo data."
