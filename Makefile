# The whole set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test lint format

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[server]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[server,dev]'
	touch $@ $(VENV)/.installed

## Install into .venv and start the hub on its embedded defaults (SQLite in ./data, the demo shop).
run: $(VENV)/.installed
	$(BIN)/kassa serve --demo $(ARGS)

## Install the dev extras and run every test (PostgreSQL too when KASSA_TEST_DATABASE_URL is set).
test: $(VENV)/.installed-dev
	$(BIN)/pytest $(ARGS)

## Static checks: ruff (lint and format), mypy, and the layer contracts (import-linter).
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
