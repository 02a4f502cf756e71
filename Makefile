# Developer and CI entry points. `make test` is what CI runs (.ci/run).
#   make test PYTEST_ARGS="tests/accounts -x"   run a subset (PYTEST_ADDOPTS works too)
SHELL := /bin/bash
# Debian's own CPython 3.11 where there is one: built with profile-guided and link-time
# optimisation (as the production image's python:3.11-slim is) and linked statically, it
# runs the portal's Python about a fifth faster than a plain shared build such as pyenv's
# (docs/PERFORMANCE.md). Another interpreter: make PYTHON=python3.
PYTHON ?= $(if $(wildcard /usr/bin/python3.11),/usr/bin/python3.11,python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp
RUN_ADDR ?= 127.0.0.1:8000

export PYTEST_ARGS

.PHONY: install apt venv-python run lint messages test security screens bench clean distclean

install: apt venv-python $(STAMP)

# A venv made by another interpreter than $(PYTHON) is made anew (and reinstalled).
venv-python:
	@if [ -x $(PY) ] && [ "$$($(PY) -c 'import sys; print(sys._base_executable)')" != \
		"$$($(PYTHON) -c 'import sys; print(sys.executable)')" ]; then \
		echo "venv: $(VENV) was made by another Python; making it anew with $(PYTHON)"; \
		rm -rf $(VENV); fi

apt:
	@scripts/apt.sh

# Reinstalled only when requirements.lock is newer than the stamp.
$(STAMP): requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "pip: installing requirements.lock into $(VENV) (log: $(VENV)/pip.log)"
	@$(PY) -m pip install --disable-pip-version-check -r requirements.lock >$(VENV)/pip.log 2>&1 \
		|| { tail -n 40 $(VENV)/pip.log; exit 1; }
	@touch $@

# The demo on SQLite (no DATABASE_URL/REDIS_URL: Celery runs tasks in-process).
run: install messages
	@unset DATABASE_URL REDIS_URL; \
	$(PY) manage.py migrate --noinput && \
	$(PY) manage.py seed_demo && \
	exec $(PY) manage.py runserver $(RUN_ADDR)

lint: install
	@scripts/test.sh lint

messages: install
	@scripts/test.sh messages

test: install
	@scripts/test.sh all

security: install
	@scripts/test.sh security

screens: install
	@scripts/test.sh screens

bench: install
	@if [ -f scripts/bench.sh ]; then exec bash scripts/bench.sh; \
	else echo "bench is not built yet (no scripts/bench.sh)" >&2; exit 1; fi

clean:
	@bash scripts/services.sh stop
	rm -rf .run test-artifacts .pytest_cache .ruff_cache .hypothesis staticfiles db.sqlite3
	find . -path ./.venv -prune -o \( -name __pycache__ -o -name '*.mo' \) -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
