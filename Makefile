# Set-up is part of every target: a fresh machine needs only Python 3.11+, Node.js 20+ and npm
# (and, for the tests, a Chromium or Chrome with its chromedriver on the PATH; `browser`
# installs Debian's packages when they are missing and it runs as root on Debian).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
PYTEST_ARGS ?=
# Test processes: most end-to-end tests wait on anvil, the database or a subprocess, so more
# workers than cores still pay. Each worker has its own anvil and data directories.
TEST_WORKERS ?= 4
# The gettext catalogues (bot/i18n/), compiled by `setup`.
LOCALES_DIR := bot/i18n/locales
MO_FILES := $(patsubst %.po,%.mo,$(wildcard $(LOCALES_DIR)/*/LC_MESSAGES/mintbot.po))
EXTRACT_KEYWORDS := -k locale_str

.PHONY: run test lint bench-gas bench-throughput bench-discord bench-telegram bench-drops bench-web \
	bench-webhooks bench-dashboard bench-poison bench-pinning bench-scale setup browser clean \
	messages

run: setup
	$(PY) -m bot run

# Bytecode caches on, even where the environment turns them off (PYTHONDONTWRITEBYTECODE): the
# suite starts hundreds of processes that import the same modules, and pytest caches the test
# modules it rewrites only when Python may write bytecode.
test: setup browser
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -n $(TEST_WORKERS) --durations=15 $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check bot cogs db tests bench
	$(VENV)/bin/ruff format --check bot cogs db tests bench
	$(VENV)/bin/mypy
	$(PY) -m tests.import_graph

bench-gas: setup
	$(PY) bench/gas.py

bench-throughput: setup
	$(PY) bench/throughput.py

bench-discord: setup
	$(PY) bench/discord_ack.py

bench-telegram: setup
	$(PY) bench/telegram_reply.py

bench-drops: setup
	$(PY) bench/drop_claims.py

bench-dashboard: setup
	$(PY) bench/dashboard.py

bench-web: setup
	$(PY) bench/web.py

bench-poison: setup
	$(PY) bench/poison.py

bench-pinning: setup
	$(PY) bench/pinning.py

bench-webhooks: setup
	$(PY) bench/webhooks.py

# Needs PostgreSQL: MINTBOT_TEST_POSTGRES_URL, or the server .ci/postgres.sh starts (as root).
bench-scale: setup
	$(PY) bench/scale.py

setup: $(PY_STAMP) $(NPM_STAMP) $(MO_FILES)

# The gettext catalogues (bot/i18n/): each .po compiles into the .mo beside it, again whenever
# the .po changes. `make messages` extracts the marked strings into the template and merges it
# into every .po (then translate the new entries).
$(LOCALES_DIR)/%/LC_MESSAGES/mintbot.mo: $(LOCALES_DIR)/%/LC_MESSAGES/mintbot.po $(PY_STAMP)
	$(VENV)/bin/pybabel -q compile -d $(LOCALES_DIR) -D mintbot -l $*

messages: $(PY_STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg $(EXTRACT_KEYWORDS) --no-location \
		--sort-output --project mintbot --version 0.1.0 \
		--copyright-holder "the mintbot authors" -o $(LOCALES_DIR)/mintbot.pot .
	$(VENV)/bin/pybabel update -d $(LOCALES_DIR) -D mintbot -i $(LOCALES_DIR)/mintbot.pot \
		--no-fuzzy-matching

# The web gallery tests drive headless Chromium: the one on the PATH, else apt-get installs
# it (root on Debian), else one line says what to install.
browser:
	bash .ci/chromium.sh

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Re-installs only when pyproject.toml changes.
$(PY_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Re-installs only when the lock file changes.
$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
