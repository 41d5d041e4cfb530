# Omnicollect: `make run` for the embedded demo, `make test` for the test suite.

VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The test suite runs on the production engines; override any of these from the environment.
TEST_DATABASE_URL := postgres://postgres@127.0.0.1:5432/omnicollect
TEST_REDIS_URL := redis://127.0.0.1:6379/9
TEST_SECRET_KEY := test-only-not-secret-0d8f5c2a9b7e4136a1f0c3d5e7b9a2c4

# System tools the tests use: Chromium for the browser tests (Playwright cannot download its
# own browser here) and gettext for the translation-catalog checks.
CHROMIUM := /usr/bin/chromium
XGETTEXT := /usr/bin/xgettext

.PHONY: venv run test lint system-tools bench

venv: $(STAMP)

$(PYTHON):
	python3 -m venv $(VENV)

# Reinstall whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install -e '.[dev,bench]'
	touch $@

run: venv
	scripts/run_demo.sh

test: export DATABASE_URL ?= $(TEST_DATABASE_URL)
test: export REDIS_URL ?= $(TEST_REDIS_URL)
test: export DJANGO_SECRET_KEY ?= $(TEST_SECRET_KEY)
test: export DJANGO_DEBUG := 0
test: venv system-tools
	$(PYTHON) scripts/check_services.py
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The benchmark (README, "Benchmark"): its own databases, not part of `make test`.
WRK := /usr/bin/wrk

bench: venv $(WRK)
	$(PYTHON) -m bench

$(WRK):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	else \
		echo "The benchmark needs wrk: sudo apt-get install wrk" >&2; \
		exit 2; \
	fi

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

system-tools: $(CHROMIUM) $(XGETTEXT)

$(CHROMIUM) $(XGETTEXT):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium gettext; \
	else \
		echo "The tests need Chromium and gettext: sudo apt-get install chromium gettext" >&2; \
		exit 2; \
	fi
