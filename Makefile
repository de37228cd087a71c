# CodeDeploy Notifier — every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run demo test lint format bench install migrate clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# The demo's extra packages (the `demo` group: moto's server, the SMTP sink), kept apart from
# the product's: a separate stamp, installed the first time `make demo` runs.
DEMO_STAMP := $(VENV)/.installed-demo
$(DEMO_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,demo]'
	@touch $(DEMO_STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py ensure_schedule --start-now

# Keys (DJANGO_SECRET_KEY, NOTIFIER_ENCRYPTION_KEY) for the laptop path: made once in
# var/keys.env (mode 0600, never replaced) and read by the settings through
# NOTIFIER_KEYS_FILE. Variables already set in the environment win over the file.
KEYS_FILE ?= var/keys.env
migrate run bench: $(KEYS_FILE)
migrate run bench: export NOTIFIER_KEYS_FILE ?= $(abspath $(KEYS_FILE))
$(KEYS_FILE): | $(STAMP)
	$(BIN)/python manage.py generate_keys --file $@

# Plain HTTP on a laptop; production (README "Running in production") keeps the default,
# NOTIFIER_HTTPS=true: HTTPS redirect, HSTS, secure cookies.
run: migrate
	NOTIFIER_HTTPS=$${NOTIFIER_HTTPS:-false} $(BIN)/python manage.py run_service --host $(HOST) --port $(PORT)

# The whole service against a simulated AWS on loopback, every notification in a built-in inbox
# (README "The demo"). Everything it makes is in $(DEMO_DIR), wiped at each start; Ctrl-C stops it.
DEMO_DIR ?= var/demo
demo: $(DEMO_STAMP)
	$(BIN)/python -m notifier.demo --host $(HOST) --port $(PORT) --dir $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
