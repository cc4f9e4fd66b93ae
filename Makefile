# Intercom Events on AWS. `make help` lists the targets; each installs what it needs.
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
# `sam build` runs pip from the template's runtime, which must be on PATH (pyenv keeps it here).
RUNTIME_PYTHON := python3.13
RUNTIME_BIN := $(shell pyenv prefix 3.13 2>/dev/null || pyenv prefix 3.13.0 2>/dev/null)/bin

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q --upgrade pip
	$(SAM_VENV)/bin/pip install -q 'aws-sam-cli==1.170.0'
	touch $@

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: install
install: $(VENV)/.installed ## make the virtual environment in .venv

.PHONY: test
test: $(VENV)/.installed ## run every test (unit, integration, e2e on the local stack)
	$(PY) -m pytest

.PHONY: lint
lint: $(VENV)/.installed ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	MYPYPATH=layers/core $(PY) -m mypy layers/core/intercom_events local
	for f in functions/*/app.py; do MYPYPATH=layers/core $(PY) -m mypy $$f || exit 1; done

.PHONY: openapi
openapi: $(VENV)/.installed ## write docs/openapi.json from the code (a test fails when it drifts)
	$(PY) -m local.openapi > docs/openapi.json

.PHONY: local
local: $(VENV)/.installed ## serve the API on http://127.0.0.1:$${LOCAL_API_PORT:-3000}/elements/api-v2 over an embedded AWS
	$(PY) -m local

.PHONY: demo
demo: $(VENV)/.installed ## walk through a webhook instance end to end on the local stack, and exit
	$(PY) -m local.demo

.PHONY: bench-webhooks
bench-webhooks: $(VENV)/.installed ## 3,000 signed webhooks, 32 at once, through the local stack: errors, losses, duplicates
	$(PY) -m benchmarks.webhook_burst

.PHONY: bench-polling
bench-polling: $(VENV)/.installed ## 50,000 contacts changed in one second, polled until done: once each, writes per change
	$(PY) -m benchmarks.poll_volume

.PHONY: validate
validate: $(VENV)/.installed $(SAM_VENV)/.installed ## sam validate --lint and cfn-lint
	$(SAM) validate --lint
	$(VENV)/bin/cfn-lint template.yaml

.PHONY: build
build: $(SAM_VENV)/.installed ## sam build (needs the template's runtime, found through pyenv)
	PATH="$(RUNTIME_BIN):$$PATH" $(SAM) build

.PHONY: deploy
deploy: build ## sam deploy --guided
	$(SAM) deploy --guided

.PHONY: clean
clean: ## remove build output and virtual environments
	rm -rf .aws-sam $(VENV) $(SAM_VENV)
