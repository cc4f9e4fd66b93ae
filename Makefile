# Intercom Events on AWS. `make help` lists the targets; each installs what it needs.
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
.DEFAULT_GOAL := help

# The oldest Python the code supports; `make test-runtime` runs the tests on the Lambda runtime's.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
# The Lambda runtime's Python, as template.yaml names it (python3.13 -> 3.13), found through pyenv:
# `sam build` runs pip from it, and `make test-runtime` tests on it.
RUNTIME_VERSION := $(shell sed -n 's/^ *Runtime: python//p' template.yaml | head -1)
RUNTIME_BIN := $(shell pyenv prefix $(RUNTIME_VERSION) 2>/dev/null || pyenv prefix $(RUNTIME_VERSION).0 2>/dev/null)/bin

# The tools at the versions uv.lock names, and the project itself as an editable install (the package
# from layers/core, local/ and benchmarks/ importable from anywhere, no path settings).
$(VENV)/.installed: pyproject.toml uv.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q 'uv==$(UV_VERSION)'
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync -q --locked --inexact --python $(PY)
	touch $@

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q --upgrade pip
	$(SAM_VENV)/bin/pip install -q 'aws-sam-cli==1.170.0'
	touch $@

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: install
install: $(VENV)/.installed ## make the virtual environment in .venv from uv.lock

.PHONY: lock
# Not through $(VENV)/.installed: its `sync --locked` refuses the stale lock this target is here to mend.
lock: ## update uv.lock after pyproject.toml changes (UPGRADE=1: newest allowed)
	test -x $(UV) || { $(PYTHON) -m venv $(VENV) && $(PY) -m pip install -q 'uv==$(UV_VERSION)'; }
	$(UV) lock $(if $(UPGRADE),--upgrade)

# The console's browser tests drive Debian's Chromium: Playwright cannot download its own browser here.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

.PHONY: chromium
chromium: $(CHROMIUM) ## install Debian's Chromium for the console's browser tests, when missing

.PHONY: test
test: $(VENV)/.installed $(CHROMIUM) ## run every test (unit, integration, e2e on the local stack), or TESTS="<paths>"
	$(PY) -m pytest $(TESTS)

.PHONY: unit
unit: $(VENV)/.installed ## run the unit tests only (no AWS, no servers): seconds
	$(PY) -m pytest tests/unit

.PHONY: test-runtime
test-runtime: ## run every test on the Lambda runtime's Python (template.yaml's), in its own venv
	@test -x $(RUNTIME_BIN)/python$(RUNTIME_VERSION) || { echo "needs Python $(RUNTIME_VERSION): pyenv install $(RUNTIME_VERSION)"; exit 1; }
	$(MAKE) test PYTHON=$(RUNTIME_BIN)/python$(RUNTIME_VERSION) VENV=.venv-$(RUNTIME_VERSION) TESTS="$(TESTS)"

.PHONY: lint
lint: $(VENV)/.installed ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy layers/core/intercom_events local
	for f in functions/*/app.py; do $(PY) -m mypy $$f || exit 1; done

.PHONY: openapi
openapi: $(VENV)/.installed ## write docs/openapi.json from the code (a test fails when it drifts)
	$(PY) -m local.openapi > docs/openapi.json

.PHONY: local
local: $(VENV)/.installed ## serve the API on http://127.0.0.1:$${LOCAL_API_PORT:-3000}/elements/api-v2 over an embedded AWS
	$(PY) -m local

.PHONY: demo
demo: $(VENV)/.installed ## walk through a webhook instance end to end on the local stack, and exit
	$(PY) -m local.demo

.PHONY: invoke
invoke: $(VENV)/.installed ## FN=api|dispatcher|poller EVENT=<file>: sam local invoke over a fresh moto server (in-process without Docker)
	$(PY) -m local.invoke "$(FN)" "$(EVENT)"

.PHONY: bench
# The cold-start module builds the layer for this machine with the template's runtime, found through pyenv.
bench: $(VENV)/.installed ## measure cold starts, warm intake, delivery, polling and cost against floors: benchmarks/RESULTS.md (QUICK=1: fewer runs)
	$(PY) -m benchmarks.results $(if $(QUICK),--quick)

.PHONY: bench-webhooks
bench-webhooks: $(VENV)/.installed ## 3,000 signed webhooks, 32 at once, through the local stack: errors, losses, duplicates
	$(PY) -m benchmarks.webhook_burst

.PHONY: bench-polling
bench-polling: $(VENV)/.installed ## 50,000 contacts changed in one second, polled until done: once each, writes per change
	$(PY) -m benchmarks.poll_volume

.PHONY: bench-rate
bench-rate: $(VENV)/.installed ## a poll of 10,000 changes to a receiver limited to 5 a second, through the local stack: rate achieved, busiest second
	$(PY) -m benchmarks.bench_rate

.PHONY: validate
validate: $(VENV)/.installed $(SAM_VENV)/.installed ## sam validate --lint and cfn-lint
	$(SAM) validate --lint
	$(VENV)/bin/cfn-lint template.yaml

.PHONY: build
build: $(SAM_VENV)/.installed ## sam build (the template's runtime, through pyenv); prints the layer's size
	PATH="$(RUNTIME_BIN):$$PATH" $(SAM) build
	@# The layer unzipped (its files' bytes, MB = 10^6), and whether it carries bytecode.
	@cd .aws-sam/build/CoreLayer && echo "CoreLayer: $$(find . -type f -exec cat {} + | wc -c | \
		awk '{printf "%.1f", $$1 / 1e6}') MB, $$(find . -type f | wc -l | tr -d ' ') files:" \
		"$$(find . -name '*.py' | wc -l | tr -d ' ') .py, $$(find . -name '*.pyc' | wc -l | tr -d ' ') .pyc"

.PHONY: deploy
deploy: build ## sam deploy --guided
	$(SAM) deploy --guided

.PHONY: clean
clean: ## remove build output and virtual environments
	rm -rf .aws-sam $(VENV) .venv-$(RUNTIME_VERSION) $(SAM_VENV)
