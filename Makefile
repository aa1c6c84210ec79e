# pricealert: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install redis run demo test chaos lint format clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

redis: $(STAMP)
	$(BIN)/python scripts/ensure_redis.py

# `make run`: web (gunicorn on $$PORT, default 8000), feeder, worker and beat from
# the Procfile, in the foreground under honcho; Ctrl-C stops them all. DEBUG
# defaults to true here (SQLite, console email printed by the worker). Real
# environment variables win over .env, which Django reads itself.
RUN_DIR ?= .run
RUN_ENV := PATH="$(CURDIR)/$(BIN):$$PATH" DEBUG=$${DEBUG:-true} RUN_DIR="$(RUN_DIR)" \
	SITE_URL="$${SITE_URL:-http://localhost:$${PORT:-8000}}"
HONCHO := $(BIN)/honcho start --env /dev/null --port $${PORT:-8000}

run: install
	@mkdir -p $(RUN_DIR)
	@$(BIN)/python scripts/ensure_redis.py --env-file .env
	@$(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	@$(RUN_ENV) $(HONCHO) --procfile Procfile

# `make demo`: the same stack, offline, fed by a random-walk market simulator
# (devtools.fakebinance) through the production feeder, with a demo user and alerts
# near the simulator's prices: an alert email shows in the worker's output within
# a minute. Its own SQLite file and Redis database keep it apart from `make run`.
DEMO_MARKET_PORT ?= 9443
DEMO_PRICES ?= BTCUSDT=60000 ETHUSDT=3000 SOLUSDT=150
DEMO_PRICE_ARGS := $(foreach price,$(DEMO_PRICES),--price $(price))
DEMO_ENV := $(RUN_ENV) \
	DATABASE_URL="sqlite:///$(abspath $(RUN_DIR))/demo.sqlite3" \
	REDIS_URL="$${DEMO_REDIS_URL:-redis://127.0.0.1:6379/1}" \
	BINANCE_WS_URL="ws://127.0.0.1:$(DEMO_MARKET_PORT)" \
	EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend \
	DEMO_MARKET_PORT="$(DEMO_MARKET_PORT)" DEMO_PRICE_ARGS="$(DEMO_PRICE_ARGS)"

demo: install
	@mkdir -p $(RUN_DIR)
	@echo "demo: SQLite $(RUN_DIR)/demo.sqlite3, Redis $${DEMO_REDIS_URL:-redis://127.0.0.1:6379/1}, simulator on :$(DEMO_MARKET_PORT)"
	@$(DEMO_ENV) $(BIN)/python scripts/ensure_redis.py
	@$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	@$(DEMO_ENV) $(BIN)/python manage.py seed_demo $(DEMO_PRICE_ARGS)
	@$(DEMO_ENV) $(HONCHO) --procfile Procfile.demo

test: install redis
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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
