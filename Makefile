# Conversa: `make run` starts a development server with demo data; `make test` runs lint + tests.
# Everything else is a shortcut for one step of those. PORT overrides 8000; ARGS go to pytest.

PY := .venv/bin/python
PORT ?= 8000
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test test-all lint migrate seed web worker clean setup

help: ## list the targets
	@echo "Conversa make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 16

run: ## bootstrap, migrate, seed the demo company, run web + worker (Ctrl-C stops)
	@PORT=$(PORT) deploy/run-dev.sh

test: ## bootstrap, then ruff and pytest (make test ARGS="-k login")
	@deploy/test.sh $(ARGS)

test-all: ## make test plus the crash, concurrency and second-server proofs (about 3 minutes more)
	@CONVERSA_PROOFS=1 deploy/test.sh $(ARGS)

lint: ## ruff check .
	@deploy/bootstrap.sh --venv-only
	.venv/bin/ruff check .

migrate: setup ## migrate_schemas: public schema, every company, the template schema
	$(PY) manage.py migrate_schemas

seed: setup ## create or complete the demo company and its users
	$(PY) manage.py seed_demo

web: setup ## only the web server (HTTP + websockets) on PORT
	.venv/bin/uvicorn conversa.asgi:application --app-dir platform --host 0.0.0.0 --port $(PORT) \
		--lifespan off --ws-ping-interval 25

worker: setup ## only the Huey worker
	$(PY) manage.py run_huey

clean: ## remove .venv/ and var/ (nothing else)
	rm -rf .venv var

setup:
	@deploy/bootstrap.sh
	@deploy/dev-env.sh
