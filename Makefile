# Two commands on a fresh machine: `make run` and `make test`. Only Python 3.11+ and make are needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install migrate worker e2e-deps bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_instruments

# The site on http://127.0.0.1:8000 and a Celery worker (with beat) beside it: filesystem broker, no server to install.
run: migrate
	$(PY) manage.py seed_demo --if-empty --fresh-link
	@echo "\nStarting the worker and the site on http://$(HOST):$(PORT)/ (Ctrl-C stops both)."
	@$(VENV)/bin/celery -A healing worker -B --loglevel=warning --concurrency=1 & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(PY) manage.py runserver $(HOST):$(PORT)

worker: install
	$(VENV)/bin/celery -A healing worker -B --loglevel=info

# The whole suite. SQLite by default; set DATABASE_URL to run it on PostgreSQL (as .ci/run does).
test: install
	$(PY) -m pytest

bench: install
	@for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .hypothesis
