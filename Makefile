# Touchpoint's everyday commands. Each one creates .venv and installs the project first if needed.
#   make run                  the app, a Celery worker and beat (embedded PostgreSQL and Redis
#                             unless DATABASE_URL / REDIS_URL are set); PORT=8000 by default
#   make test [ARGS="..."]    the whole test suite, or pytest with ARGS (e.g. ARGS="tests/crm -x")
#   make lint                 ruff, formatting, mypy and missing migrations

VENV := .venv
PYTHON := $(VENV)/bin/python
# Touched after each install: the project is reinstalled only when pyproject.toml is newer.
INSTALLED := $(VENV)/.installed

.PHONY: install run test lint

install: $(INSTALLED)

$(PYTHON):
	python3 -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install -e ".[embedded,dev]"
	touch $@

run: $(INSTALLED)
	$(PYTHON) -m crm.devservices run

test: $(INSTALLED)
	$(PYTHON) -m crm.devservices test -- $(ARGS)

# makemigrations --check needs no database: its warning that none answered is silenced.
lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PYTHON) -W "ignore:Got an error checking a consistent migration history" \
		manage.py makemigrations --check --dry-run

# The 360-degree view and search benchmark (bench/README.md), on BENCH_DATABASE_URL; build the
# tenant first with bench/generate_tenant.py.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/touchpoint_bench
.PHONY: bench
bench: $(INSTALLED)
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PYTHON) bench/bench_360.py $(ARGS)
