# RADIANT — the two commands: `make run` (the whole stack) and `make test`.
# Both install what is missing first (scripts/deps.sh).
SHELL := /bin/bash
PNPM := .tools/node_modules/.bin/pnpm
COMPOSE := docker compose -f infra/docker-compose.yml

.PHONY: deps build run dev test test-examples lint format clean docker-build docker-up docker-topology docker-logs docker-down

deps:            ## install pnpm (pinned), nats-server, packages; build
	@scripts/deps.sh

build: deps

run: deps        ## nats-server + echo models + egress proxy + worker + gateway, until Ctrl-C (CLUSTER=3: a 3-node NATS cluster, streams R3)
	@RADIANT_NATS_CLUSTER="$(CLUSTER)" exec node infra/dist/dev-stack.js

dev: deps        ## the same with pretty logs and a rebuild on every change
	@$(PNPM) exec tsc -b --watch --preserveWatchOutput & trap "kill $$!" EXIT; \
	 GATEWAY_DEV=true node --watch-path=gateway/dist --watch-path=workers/dist --watch-path=infra/dist infra/dist/dev-stack.js

test: lint       ## lint, then the full suite (starts its own nats-server per test file; the browser test needs chromium)
	@scripts/deps.sh --chromium
	@node scripts/run-tests.mjs $(TESTS)

test-examples: deps  ## every example config in examples/ through a whole stack (part of `make test` too)
	@node scripts/run-tests.mjs gateway/test/e2e_examples.test.ts

lint: deps       ## Biome (lint rules and formatting, biome.json) and a type-check of everything, tests included
	@$(PNPM) exec biome ci --reporter=summary .
	@$(PNPM) exec tsc -p tsconfig.lint.json

format: deps     ## rewrite files as the formatter wants them (what `make lint` checks)
	@$(PNPM) exec biome check --write .

clean:
	rm -rf .data */dist */*.tsbuildinfo

docker-build:    ## the images (gateway, worker, egress-proxy, mcp-bridge, topology, echo: targets of infra/docker/Dockerfile); needs a Docker engine
	$(COMPOSE) build

docker-up:       ## NATS x3 + topology job + echo + egress proxy + MCP bridge + workers + gateway in containers (set RESUME_TOKEN_SECRET)
	$(COMPOSE) up -d

docker-topology: ## run `radiant topology apply` again (after an upgrade or a change of its settings)
	$(COMPOSE) run --rm topology

docker-logs:
	$(COMPOSE) logs -f

docker-down:     ## stop and remove the containers (the NATS volumes stay; `$(COMPOSE) down -v` removes them)
	$(COMPOSE) down
