# CareLoop — the front door. `make run` starts everything; `make test` checks everything.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
UV_VERSION := 0.13.9

.PHONY: help run test lint fmt typecheck test-sqlite test-postgres system-deps bench \
        install install-dev lock messages openapi clean

help:
	@echo "make run    start CareLoop on SQLite with demo data (http://127.0.0.1:8000)"
	@echo "make test   lint, type check, all tests on SQLite and PostgreSQL (browser included)"
	@echo "make lint | fmt | typecheck | bench | messages | openapi | lock"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check uv==$(UV_VERSION)

# Runtime dependencies only: what `make run` needs.
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(UV) pip install -q --python $(BIN)/python -r requirements.lock
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .
	@touch $@

# Plus the dev extra: test, lint and type-check tools.
$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(UV) pip install -q --python $(BIN)/python -r requirements-dev.lock
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/careloop serve

system-deps:
	@scripts/ensure-system-deps.sh

test: install-dev system-deps lint typecheck test-sqlite test-postgres

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install-dev
	$(BIN)/mypy

test-sqlite: install-dev
	$(BIN)/python -m pytest

test-postgres: install-dev system-deps
	scripts/with-postgres.sh $(BIN)/python -m pytest

bench: install-dev
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# Regenerate the lock files from pyproject.toml (needs the package index).
lock: | $(BIN)/python
	$(UV) pip compile -q --python-version 3.11 pyproject.toml -o requirements.lock
	$(UV) pip compile -q --python-version 3.11 --extra dev pyproject.toml -o requirements-dev.lock

# Extract and compile translations (needs Debian gettext).
messages: install-dev
	cd careloop && ../$(BIN)/careloop makemessages -l zh_Hans --no-obsolete --no-location \
	  --ignore 'static/*'
	$(BIN)/python scripts/compile-messages.py

openapi: install-dev
	$(BIN)/careloop export_openapi > docs/api/openapi.json
	$(BIN)/careloop export_capability > docs/fhir/CapabilityStatement.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
