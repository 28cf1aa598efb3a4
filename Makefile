# Two commands on a fresh machine: `make run` and `make test`. Only Python 3.11+ and make are needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Every link `make run` prints or sends (the fresh patient link, create_visit, QR cards) points at the site it
# serves, whatever PORT is; set SITE_URL to override.
SITE_URL ?= http://$(HOST):$(PORT)

.PHONY: run test install lock migrate worker e2e-deps bench clean

# Runtime dependencies from requirements.lock (exact versions, hash-checked: what the image installs), then the
# project and its dev tools.
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# After changing a dependency range in pyproject.toml: pin the newest versions it allows, with their hashes.
lock: install
	$(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
	  --no-emit-find-links --output-file=requirements.lock pyproject.toml

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_instruments

# The site on http://127.0.0.1:8000 and a Celery worker (with beat) beside it: filesystem broker, no server to install.
# The worker is supervised: if it dies, it starts again 2 s later (docs/reports.md), and Ctrl-C stops both.
WORKER := $(VENV)/bin/celery -A healing worker -B --loglevel=warning --concurrency=1
run: export SITE_URL := $(SITE_URL)
run: migrate
	$(PY) manage.py seed_demo --if-empty --fresh-link
	@echo "\nStarting the worker and the site on http://$(HOST):$(PORT)/ (Ctrl-C stops both)."
	@( trap 'kill -TERM $$worker 2>/dev/null; wait $$worker; exit 0' TERM; \
	   while :; do $(WORKER) & worker=$$!; wait $$worker; \
	     echo "The worker stopped (exit $$?); starting it again in 2 s." >&2; sleep 2; done ) & supervisor=$$!; \
	  trap 'kill -TERM $$supervisor 2>/dev/null; wait $$supervisor' EXIT INT TERM; \
	  $(PY) manage.py runserver $(HOST):$(PORT)

worker: install
	$(VENV)/bin/celery -A healing worker -B --loglevel=info

# The whole suite. SQLite by default; set DATABASE_URL to run it on PostgreSQL (as .ci/run does).
test: install
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

# The submit benchmark's load generator is wrk (a C program, light on the two cores it shares with gunicorn and
# PostgreSQL): installed with apt when we are root and it is missing, else its throughput part reports "skipped".
bench: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk </dev/null >/dev/null; } || \
	  echo "wrk not found: install it (apt-get install wrk) for the submit throughput figure."
	@for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .hypothesis
