# The two commands a new user needs: `make up` and `make test`. Both build .venv when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEMPLATE ?= template.yaml
PORT ?= 4566
API_PORT ?= 3000
CONSOLE_PORT ?= 8080
# One cloud per state directory (it is locked while the cloud runs): a second cloud on other ports gets
# its own, .localcloud-<PORT>, unless STATE names one.
STATE ?= $(if $(filter 4566,$(PORT)),.localcloud,.localcloud-$(PORT))
CLOUD := $(PY) -m infra.localcloud.cli

# What users type reaches the commands through the environment, never through the shell's parser:
# file names with spaces, quotes or unicode work, and `FILE='x;rm -rf ~'` is just an odd file name.
export TEMPLATE PORT API_PORT CONSOLE_PORT STATE FILE JSON EVENT FN REFERENCE PARAMS TO ACTION FRESH RESET_PARAMS
export TARGET OUT SCHEMA
export LOCALCLOUD_ENDPOINTS ?= $(STATE)/endpoints.json

.PHONY: setup up test test-unit test-integration invoke events lint data upload labels monitor predict models audit alerts rollback recover bootstrap demo serve bench clean schema schema-check

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

setup: $(STAMP)

OPS := $(PY) scripts/ops.py
# The default template is the product: once deployed, bootstrap trains and promotes v0001, and the
# execution console starts (on CONSOLE_PORT, from the environment). Another TEMPLATE gets the generic
# local cloud only.
PRODUCT := $(if $(filter template.yaml,$(TEMPLATE)),--after "$(OPS) bootstrap" --after "$(PY) -m console")

# The product's alerts link to this cloud's console (CONSOLE_PORT), unless PARAMS sets ConsoleUrl.
CONSOLE_URL_PARAM := $(if $(filter template.yaml,$(TEMPLATE)),ConsoleUrl=http://127.0.0.1:$$CONSOLE_PORT)

up: $(STAMP)
	@$(OPS) check-reference
	$(CLOUD) up --template "$$TEMPLATE" --state-dir "$$STATE" --port "$$PORT" --api-port "$$API_PORT" \
	  $${FRESH:+--fresh} $${RESET_PARAMS:+--reset-parameters} --parameter-overrides "$(CONSOLE_URL_PARAM) $$PARAMS" $(PRODUCT)

# Train and promote the first model on the running cloud (make up does it once by itself).
bootstrap: $(STAMP)
	$(OPS) bootstrap

data: $(STAMP)
	$(PY) scripts/make_data.py --out data/generated

# A schema file inferred from your labelled CSV (docs/schema.md); OUT defaults to <stem>.schema.json here.
schema: $(STAMP)
	@test -n "$$FILE" && test -n "$$TARGET" || { echo "usage: make schema FILE=data.csv TARGET=price [OUT=data.schema.json]" >&2; exit 2; }
	@$(PY) scripts/schema.py infer --target="$$TARGET" $${OUT:+--out="$$OUT"} -- "$$FILE"

# Validate a (hand-edited) schema file; with FILE, also compare it with that CSV's columns and values.
schema-check: $(STAMP)
	@test -n "$$SCHEMA" || { echo "usage: make schema-check SCHEMA=data.schema.json [FILE=data.csv]" >&2; exit 2; }
	@$(PY) scripts/schema.py check $${FILE:+--csv="$$FILE"} -- "$$SCHEMA"

upload: $(STAMP)
	@test -n "$$FILE" || { echo "usage: make upload FILE=path/to/batch.csv" >&2; exit 2; }
	$(OPS) upload "$$FILE"

# Ground truth for captured predictions: a CSV of prediction_id,<target> (MedHouseVal), into labels/.
labels: $(STAMP)
	@test -n "$$FILE" || { echo "usage: make labels FILE=path/to/labels.csv" >&2; exit 2; }
	$(OPS) labels "$$FILE"

# Run MonitorFunction now (it also runs on MonitorSchedule); the last line is its record, one JSON object.
monitor: $(STAMP)
	@$(OPS) monitor

predict: $(STAMP)
	$(OPS) predict $${JSON:+"$$JSON"}

models: $(STAMP)
	$(OPS) models

audit: $(STAMP)
	$(OPS) audit $${ACTION:+--action "$$ACTION"}

# The alerts sent, newest first: from the e-mail outbox $(STATE)/outbox when AlertEmail is set, else
# from the audit trail (`alert_sent` items). ACTION=rollback (quarantine, canary_alarm, ...) filters.
alerts: $(STAMP)
	$(OPS) alerts $${ACTION:+--action "$$ACTION"}

rollback: $(STAMP)
	$(OPS) rollback $${TO:+--to "$$TO"}

recover: $(STAMP)
	$(OPS) recover

demo: $(STAMP)
	$(PY) scripts/demo.py

serve: $(STAMP)
	$(PY) scripts/serve.py

test: $(STAMP) browser
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit tests/functional

test-integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

invoke: $(STAMP)
	@test -n "$$FN" || { echo "usage: make invoke FN=<LogicalId> EVENT=<file>" >&2; exit 2; }
	@$(CLOUD) invoke "$$FN" --template "$$TEMPLATE" --state-dir "$$STATE" $${EVENT:+--event "$$EVENT"}

# Deterministic (fixed times and ids, like sam local generate-event's samples): git sees no change.
events: $(STAMP)
	$(CLOUD) generate-event s3-put --bucket selfheal-data-123456789012-us-east-1 --key incoming/drifted.csv > events/s3_put.json
	$(CLOUD) generate-event http-api --method POST --path /predict --body '{"MedInc": 3.87, "HouseAge": 29.0, "AveRooms": 5.43, "AveBedrms": 1.1, "Population": 1425.0, "AveOccup": 3.07, "Latitude": 34.05, "Longitude": -118.25}' > events/http_api_predict.json
	$(CLOUD) generate-event http-api --method GET --path /health > events/http_api_health.json
	$(CLOUD) generate-event schedule > events/schedule.json

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) tests/benchmarks/run.py $(if $(QUICK),--quick)

clean:
	rm -rf .localcloud .pytest_cache .ruff_cache

# The console's browser tests drive Debian's headless Chromium (never a downloaded browser build).
.PHONY: browser console
browser:
	@if [ -x /usr/bin/chromium ]; then \
	  echo "browser: $$(/usr/bin/chromium --version 2>/dev/null)"; \
	elif [ "$$(id -u)" != 0 ]; then \
	  echo "make browser: /usr/bin/chromium is missing and installing it needs root:" >&2; \
	  echo "  sudo apt-get update && sudo apt-get install -y chromium   (then run make test again)" >&2; \
	  exit 1; \
	else \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	fi

# The console alone, against a cloud started elsewhere (make up already starts one on port 8080).
console: $(STAMP)
	$(PY) -m console

# ---- AWS SAM: validate, build, sizes, and the two deploy paths (LocalStack, AWS) -----------------
# aws-sam-cli pins boto3, aws-sam-translator and cfn-lint versions of its own: it lives in .venv-sam,
# installed from requirements-sam.lock, apart from .venv.
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAMLOCAL := $(SAM_VENV)/bin/samlocal
SAM_STAMP := $(SAM_VENV)/.installed
# sam validate and sam build call no AWS API, but sam starts only with a region (and reads credentials):
# dummies, unless you have your own.
SAM_OFFLINE := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} \
  AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-testing}
STACK ?= selfheal
COMPOSE := docker compose -f infra/localstack/docker-compose.yml

.PHONY: sam-setup sam-validate sam-build sizes image-check package-check typecheck deploy localstack localstack-down

$(SAM_STAMP): requirements-sam.lock
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.lock
	touch $(SAM_STAMP)

sam-setup: $(SAM_STAMP)

sam-validate: $(SAM_STAMP)
	$(SAM_OFFLINE) $(SAM) validate --lint --template $(TEMPLATE)

# Zip functions and the layer build natively (no Docker). Image functions need Docker to build; here
# they are excluded and checked by image-check instead.
sam-build: $(SAM_STAMP) $(STAMP)
	$(SAM_OFFLINE) $(SAM) build --template $(TEMPLATE) --cached $$($(PY) -m infra.aws.functions --template $(TEMPLATE) --exclude-images)

# Unzipped size of every zip function with its layers (limit 250 MB), and the image functions' installed
# size, written to docs/sizes.md.
sizes: $(STAMP)
	$(PY) -m infra.aws.sizes --template $(TEMPLATE) --out docs/sizes.md

# Image functions without Docker: their requirements.txt alone in a fresh venv, their handler run there.
image-check: $(STAMP)
	PACKAGING_CHECKS=1 $(PY) -m pytest -q tests/aws_packaging/test_image_functions.py

# What CI runs besides make test: sam validate --lint, sam build, the size test, the built zips'
# isolated imports, the image functions' fresh-environment check, and docs/sizes.md.
package-check: sam-validate sam-build
	PACKAGING_CHECKS=1 $(PY) -m pytest -q tests/aws_packaging
	$(MAKE) --no-print-directory sizes

typecheck: $(STAMP)
	$(PY) -m mypy

# AWS: your credentials and Docker (image functions are built as containers). --guided asks for the
# stack name (lowercase: it names the data bucket), region and parameters, and saves samconfig.toml.
deploy: $(SAM_STAMP)
	$(SAM) build --template $(TEMPLATE) && $(SAM) deploy --guided --template-file .aws-sam/build/template.yaml

# LocalStack in Docker (LOCALSTACK_AUTH_TOKEN: HTTP APIs and ECR images are LocalStack Pro features),
# then the same build deployed with samlocal. Stop `make up` first: both listen on port 4566.
localstack: $(SAM_STAMP)
	@test -n "$$LOCALSTACK_AUTH_TOKEN" || { echo "make localstack: set LOCALSTACK_AUTH_TOKEN (see docs/packaging.md)" >&2; exit 2; }
	$(COMPOSE) up --detach --wait
	AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test $(SAMLOCAL) build --template $(TEMPLATE)
	AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test $(SAMLOCAL) deploy \
	  --template-file .aws-sam/build/template.yaml --stack-name $(STACK) --resolve-s3 --resolve-image-repos \
	  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-confirm-changeset --no-fail-on-empty-changeset

localstack-down:
	$(COMPOSE) down
