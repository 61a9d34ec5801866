# The two commands a new user needs: `make demo` runs the suite, `make test` tests it.
# Both work on a fresh Debian machine without Docker: they install uv and the locked
# dependencies, then find or start RabbitMQ and MongoDB (see scripts/devstack.py).

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
ROLE ?= manager

.PHONY: setup demo test lint typecheck token compose supergraph

setup:
	@$(UV) --version >/dev/null 2>&1 || { echo "[make] uv is missing: installing it from PyPI with pip"; \
		python3 -m pip install --quiet uv; }
	@$(UV) sync --frozen --quiet
	@# The explorer's assets (GraphiQL, served at GET /graphql in development): npm, best effort.
	@[ -d tools/graphiql/node_modules/graphiql ] || { command -v npm >/dev/null && npm ci --prefix tools/graphiql --no-audit --no-fund --silent; } || echo "[make] npm is missing: the explorer at GET /graphql has no assets"

demo: setup
	@$(UV) run --frozen python scripts/devstack.py demo

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: setup
	$(UV) run --frozen mypy

test: lint typecheck
	$(UV) run --frozen pytest

token: setup
	@$(UV) run --frozen python scripts/devstack.py token --role $(ROLE)
