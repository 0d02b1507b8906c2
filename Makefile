# Two commands on a fresh clone: `make demo` and `make test`. Both do all of their own set-up.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint install bench clean system-deps synth reliability
NODE_STAMP := node_modules/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "twinserve needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) $(NODE_STAMP)

# The pinned CDK CLI (package.json): aws-cdk 3.x cannot read aws-cdk-lib 2.x cloud assemblies.
$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

# What `cdk deploy` would deploy: the CDK app builds the Lambda package and the container context
# itself (for the configured door, runtime and architecture), and trains the default model when
# there is none.
synth: $(STAMP) $(NODE_STAMP)
	npx cdk synth --quiet

# Debian's chromium renders the HTML report in a test (headless, no browser download).
system-deps:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the report rendering test"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# The main job, locally: train, package, measure both options, price them, write the report.
DEMO_RESULTS ?= results/demo
demo: $(STAMP)
	$(VENV)/bin/twinserve train breast-cancer-logreg --out build/bundles/default
	$(VENV)/bin/twinserve package lambda --bundle build/bundles/default --runtime onnx --door native
	$(VENV)/bin/twinserve bench --target local-lambda --target local-container --scenario all --quick \
		--out $(DEMO_RESULTS)
	$(VENV)/bin/twinserve bench --target local-lambda --variant native/lean --variant native/sklearn --variant asgi/onnx \
		--scenario cold-start --quick --out $(DEMO_RESULTS)
	$(VENV)/bin/twinserve report $(DEMO_RESULTS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: $(STAMP) $(NODE_STAMP) system-deps lint
	$(PY) -m pytest

# The README's reliability figures: the suite in tests/reliability at full size (10,000 fuzzed events,
# over 1,000 schemathesis cases per door, a minute of load and of a killed worker...), about 6 minutes.
# `make test` runs the same checks small. Writes results/reliability/figures.md and figures.json.
reliability: $(STAMP)
	TWINSERVE_RELIABILITY=full $(PY) -m pytest tests/reliability -q -p no:cacheprovider
	@cat results/reliability/figures.md

bench: $(STAMP)
	$(PY) -m benchmarks.core_bench

clean:
	rm -rf build results .pytest_cache .mypy_cache .ruff_cache
