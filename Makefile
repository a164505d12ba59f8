# OMS: `make run` starts the whole stack, `make test` runs every test.
#
#   make run     .venv + pinned requirements (+ npm front-end packages), migrate, seed_demo,
#                then `python -m oms_site.run` on HOST:PORT (127.0.0.1:8000).
#                OMS_SKIP_SEED=1 skips seed_demo.
#   make test    the whole suite: unit/API tests over PYTEST_WORKERS processes (default 2),
#                then integration, then e2e tests, one at a time (scripts/run_tests.py).
#                Installs Debian's chromium for the e2e tests first when it is missing.
#   make bench   every bench/*.py (each prints JSON figures).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
INSTALL_INPUTS := requirements.txt requirements-nodeps.txt $(wildcard package.json package-lock.json scripts/vendor_static.py)
STAMP := $(VENV)/.installed-$(shell cat $(INSTALL_INPUTS) 2>/dev/null | sha1sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT PYTEST_ARGS PYTEST_WORKERS

.PHONY: install sysdeps browserdeps run test test-fast lint format bench migrate seed clean

# mysqlclient compiles against the MariaDB/MySQL client library: get it from Debian when
# it is missing and we may (root, apt-get); otherwise say what to install.
sysdeps:
	@if ! pkg-config --exists libmariadb 2>/dev/null && ! pkg-config --exists mysqlclient 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing libmariadb-dev and pkg-config (needed to build mysqlclient)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmariadb-dev pkg-config >/dev/null; \
	  else \
	    echo "mysqlclient needs the MariaDB/MySQL client headers: install libmariadb-dev and pkg-config" >&2; \
	    exit 1; \
	  fi; \
	fi

$(STAMP): $(INSTALL_INPUTS)
	@$(MAKE) --no-print-directory sysdeps
	test -x $(PYTHON) || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	@if [ -f package.json ]; then \
	  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; \
	  else npm install --no-audit --no-fund --loglevel=error; fi; \
	fi
	@if [ -f package.json ] && [ -f scripts/vendor_static.py ]; then $(PYTHON) scripts/vendor_static.py; fi
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PYTHON) -m oms_site.run --ensure-database
	$(PYTHON) manage.py migrate --noinput

seed: migrate
	@if [ -n "$(OMS_SKIP_SEED)" ] && [ "$(OMS_SKIP_SEED)" != 0 ]; then \
	  echo "OMS_SKIP_SEED set: not seeding demo data"; \
	else $(PYTHON) manage.py seed_demo; fi

# `exec`: the supervisor itself is make's child, so a SIGTERM to make reaches it.
run: seed
	exec $(PYTHON) -m oms_site.run

# The e2e tests drive Debian's chromium: installed when missing (root), else a clear message.
browserdeps:
	@sh scripts/ensure_chromium.sh

test: install browserdeps
	$(PYTHON) scripts/run_tests.py

test-fast: install
	$(PYTHON) -m pytest -q -m "not e2e and not integration" -n $${PYTEST_WORKERS:-2} $(PYTEST_ARGS) || [ $$? -eq 5 ]

# lint-imports: the import layers of DESIGN.md ([tool.importlinter] in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	@for b in bench/*.py; do echo "== $$b" >&2; $(PYTHON) $$b || exit 1; done

clean:
	rm -rf var/*.sqlite3* var/staticfiles var/redis var/test-results
