# pricealert: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install redis run demo test chaos lint format clean screenshots

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# A Redis at REDIS_URL: the one that answers there, else a local one started with a
# password (scripts/ensure_redis.py), kept in REDIS_DIR with its data, log and pid.
REDIS_DIR ?= .redis
ENSURE_REDIS := $(BIN)/python scripts/ensure_redis.py --print-url --dir "$(REDIS_DIR)"

redis: $(STAMP)
	$(BIN)/python scripts/ensure_redis.py --dir "$(REDIS_DIR)"

# `make run`: web (gunicorn on $$PORT, default 8000), feeder, worker, engine and beat
# from the Procfile, in the foreground under honcho; Ctrl-C stops them all. DEBUG
# defaults to true here (SQLite, console email printed by the worker). Real
# environment variables win over .env, which Django reads itself.
# Redis: the one at REDIS_URL as configured, else a local one started with a password
# (scripts/ensure_redis.py); the processes get the URL it prints, password included.
RUN_DIR ?= .run
RUN_ENV := PATH="$(CURDIR)/$(BIN):$$PATH" DEBUG=$${DEBUG:-true} RUN_DIR="$(RUN_DIR)" \
	SITE_URL="$${SITE_URL:-http://localhost:$${PORT:-8000}}"
HONCHO := $(BIN)/honcho start --env /dev/null --port $${PORT:-8000}

run: install
	@mkdir -p $(RUN_DIR)
	@REDIS_URL="$$($(ENSURE_REDIS) --env-file .env)" && export REDIS_URL && \
		$(RUN_ENV) $(BIN)/python manage.py migrate --noinput && \
		$(RUN_ENV) exec $(HONCHO) --procfile Procfile

# `make demo`: the same stack, offline, fed by a random-walk market simulator
# (devtools.fakebinance) through the production feeder, with a demo user and alerts
# near the simulator's prices: an alert email shows in the worker's output within
# a minute. Its own SQLite file and Redis database keep it apart from `make run`.
DEMO_MARKET_PORT ?= 9443
DEMO_PRICES ?= BTCUSDT=60000 ETHUSDT=3000 SOLUSDT=150
DEMO_PRICE_ARGS := $(foreach price,$(DEMO_PRICES),--price $(price))
DEMO_REDIS := REDIS_URL="$${DEMO_REDIS_URL:-redis://127.0.0.1:6379/1}" $(ENSURE_REDIS) --env-file .env
DEMO_ENV := $(RUN_ENV) \
	DATABASE_URL="sqlite:///$(abspath $(RUN_DIR))/demo.sqlite3" \
	BINANCE_WS_URL="ws://127.0.0.1:$(DEMO_MARKET_PORT)" \
	BINANCE_API_URL="http://127.0.0.1:$(DEMO_MARKET_PORT)" \
	EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend \
	DEMO_MARKET_PORT="$(DEMO_MARKET_PORT)" DEMO_PRICE_ARGS="$(DEMO_PRICE_ARGS)"

demo: install
	@mkdir -p $(RUN_DIR)
	@echo "demo: SQLite $(RUN_DIR)/demo.sqlite3, Redis $${DEMO_REDIS_URL:-redis://127.0.0.1:6379/1}, simulator on :$(DEMO_MARKET_PORT)"
	@REDIS_URL="$$($(DEMO_REDIS))" && export REDIS_URL && \
		$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput && \
		$(DEMO_ENV) $(BIN)/python manage.py seed_demo $(DEMO_PRICE_ARGS) && \
		$(DEMO_ENV) exec $(HONCHO) --procfile Procfile.demo

# The tests' Redis: TEST_REDIS_URL, else database TEST_REDIS_DB (15) of the local one,
# started with a password if none answers; pytest gets its URL, password included.
TEST_REDIS := REDIS_URL="$${TEST_REDIS_URL:-redis://127.0.0.1:6379/$${TEST_REDIS_DB:-15}}" $(ENSURE_REDIS)

# The browser tests (web/tests/browser) need Debian's chromium + chromium-driver:
# scripts/ensure_browser.sh installs them as root, else stops with what to install.
test: install
	@scripts/ensure_browser.sh
	@TEST_REDIS_URL="$$($(TEST_REDIS))" && export TEST_REDIS_URL && \
		exec $(BIN)/python -m pytest $(PYTEST_ARGS)

# `make screenshots`: the web app's browser story (web/tests/browser) saving each page it
# visits, desktop and phone width, as PNG in docs/screenshots/ (shown in README).
screenshots: install
	@scripts/ensure_browser.sh
	@TEST_REDIS_URL="$$($(TEST_REDIS))" && export TEST_REDIS_URL && \
		WEB_SCREENSHOTS_DIR="$(CURDIR)/docs/screenshots" exec $(BIN)/python -m pytest -q web/tests/browser

# `make chaos`: the full chaos run (tests/chaos): thousands of alerts through worker
# SIGKILLs, Redis restarts, a blocked database (PostgreSQL), Binance drops and a
# minute of SMTP refusals; prints the report. `make test` runs the short one.
# CHAOS_ARGS="--size short" or "--alerts 2000"; DATABASE_URL=postgres://... for PostgreSQL.
chaos: install
	$(BIN)/python -m tests.chaos --size full $(CHAOS_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .redis .run .pytest_cache staticfiles
