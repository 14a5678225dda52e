# The two commands a new user needs: `make up` and `make test`. Both build .venv when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEMPLATE ?= template.yaml
PORT ?= 4566
CLOUD := $(PY) -m infra.localcloud.cli

.PHONY: setup up test test-unit test-integration invoke events lint data upload predict models audit rollback demo serve bench clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

setup: $(STAMP)

up: $(STAMP)
	$(CLOUD) up --template $(TEMPLATE) --port $(PORT) $(if $(FRESH),--fresh) $(if $(REFERENCE),--reference $(REFERENCE)) $(if $(PARAMS),--parameter-overrides $(PARAMS))

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit tests/functional

test-integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

invoke: $(STAMP)
	@test -n "$(FN)" || { echo "usage: make invoke FN=<LogicalId> EVENT=<file>" >&2; exit 2; }
	@$(CLOUD) invoke $(FN) --template $(TEMPLATE) $(if $(EVENT),--event $(EVENT))

events: $(STAMP)
	$(CLOUD) generate-event s3-put --bucket example-bucket --key incoming/batch.csv > events/s3_put.json
	$(CLOUD) generate-event http-api --method POST --path /predict > events/http_api_predict.json

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) tests/benchmarks/run.py $(if $(QUICK),--quick)

clean:
	rm -rf .localcloud .pytest_cache .ruff_cache
