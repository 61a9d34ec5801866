# The two commands a new user needs: `make demo` runs the suite, `make test` tests it.
# Both work on a fresh Debian machine without Docker: they find or install uv (never into the
# system Python), install the locked dependencies, then find or start RabbitMQ and MongoDB
# (see scripts/devstack.py).

SHELL := /bin/bash
ROLE ?= manager
UV_VERSION := 0.13.9
# uv from PATH if there is one, else a private copy in .tools/uv (a virtual environment of its
# own: Debian's Python is "externally managed" (PEP 668) and pip refuses to install into it).
PRIVATE_UV := .tools/uv/bin/uv
UV := $(shell command -v uv 2>/dev/null || echo $(PRIVATE_UV))
# Never download an interpreter: any Python 3.11-3.13 on the machine will do.
export UV_PYTHON_DOWNLOADS := never
# Trust the machine's certificate store (as pip does), not only uv's bundled roots: a
# TLS-inspecting proxy that the machine trusts then works for uv too.
export UV_NATIVE_TLS := 1

.PHONY: setup demo reset test test-scale test-unit lint typecheck token console console-test

setup: $(if $(filter $(PRIVATE_UV),$(UV)),$(PRIVATE_UV))
	@$(UV) sync --frozen --quiet
	@# The explorer's assets (GraphiQL, served at GET /graphql in development): npm, best effort.
	@[ -d tools/graphiql/node_modules/graphiql ] || { command -v npm >/dev/null && npm ci --prefix tools/graphiql --no-audit --no-fund --silent; } || echo "[make] npm is missing: the explorer at GET /graphql has no assets"

$(PRIVATE_UV):
	@echo "[make] uv is not on PATH: installing uv $(UV_VERSION) into .tools/uv (a private virtual environment; the system Python is not touched)"
	@command -v python3 >/dev/null || { echo "[make] python3 (3.11 to 3.13) is required"; exit 1; }
	@python3 -m venv .tools/uv || { echo "[make] python3 cannot create a virtual environment; on Debian: apt-get install python3-venv"; exit 1; }
	@.tools/uv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# The web console (console/, served by the gateway at /): built when console/dist is missing or
# older than any of its sources; `npm ci` first when node_modules is missing or older than the lock.
CONSOLE_INDEX := console/dist/index.html
CONSOLE_SOURCES := $(shell find console/src console/index.html console/package.json console/package-lock.json console/vite.config.ts console/tsconfig.json -type f 2>/dev/null)

console: $(CONSOLE_INDEX)

$(CONSOLE_INDEX): $(CONSOLE_SOURCES)
	@command -v npm >/dev/null || { echo "[make] npm is missing: the console (GET /) cannot be built; install Node.js 20+ and npm"; exit 1; }
	@if [ -f $(CONSOLE_INDEX) ]; then echo "[make] the console's build is older than its sources: rebuilding console/dist (npm run build)"; else echo "[make] the console is not built: building console/dist (npm ci, then npm run build)"; fi
	@[ console/node_modules/.package-lock.json -nt console/package-lock.json ] || npm ci --prefix console --no-audit --no-fund --silent
	@npm run --prefix console --silent build >/dev/null
	@echo "[make] console built: console/dist (served by the gateway at /)"

# The console's component tests (Vitest); `make test` runs them through tests/console.
console-test: console
	@npm run --prefix console --silent test

demo: setup
	@$(MAKE) -s console || echo "[make] the demo runs without the console: GET / explains how to build it"
	@$(UV) run --frozen python scripts/devstack.py demo

# Starts over: removes the demo's data (stand-in database, logs) and its RabbitMQ virtual host.
reset: setup
	@$(UV) run --frozen python scripts/devstack.py reset

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: setup
	$(UV) run --frozen mypy

test: lint typecheck console
	$(UV) run --frozen pytest -m "not scale"

# The scale-out proof (tests/e2e/test_scale_out_e2e.py: two replicas of every process, 2,000
# moves, a SIGKILL of each kind): minutes of its own, so apart from `make test`; CI runs both.
test-scale: setup console
	$(UV) run --frozen pytest -m scale

# The pure tests (domain, planner, contracts): no broker, no database, seconds.
test-unit: setup
	$(UV) run --frozen pytest -m "not infra"

token: setup
	@$(UV) run --frozen python scripts/devstack.py token --role $(ROLE)
