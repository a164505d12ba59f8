# OMS: `make run` starts the whole stack, `make test` runs every test.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt package-lock.json 2>/dev/null | sha1sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-fast lint format bench migrate seed clean

$(STAMP): requirements.txt
	test -x $(PYTHON) || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	@if [ -f package.json ]; then npm ci --no-audit --no-fund --loglevel=error; fi
	@if [ -f package.json ]; then $(PYTHON) scripts/vendor_static.py; fi
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PYTHON) manage.py migrate --noinput

seed: migrate
	$(PYTHON) manage.py seed_demo

run: seed
	HOST=$(HOST) PORT=$(PORT) $(PYTHON) -m oms_site.run

test: install
	$(PYTHON) -m pytest -q $(PYTEST_ARGS)

test-fast: install
	$(PYTHON) -m pytest -q -m "not e2e and not integration" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	@for b in bench/*.py; do echo "== $$b" >&2; $(PYTHON) $$b || exit 1; done

clean:
	rm -rf var/*.sqlite3* var/staticfiles var/redis
