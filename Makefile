# ezapi — control plane of the EZ-API LLM gateway.
# `make help` lists the targets. Tools are pinned in go.mod's tool block.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
BIN       := bin/ezapi
PKG       := github.com/ez-api/ez-api
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILDTIME ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w -X $(PKG)/internal/app.Version=$(VERSION) -X $(PKG)/internal/app.Commit=$(COMMIT) -X $(PKG)/internal/app.BuildTime=$(BUILDTIME)
GENERATED := internal/adapters/httpapi/gen tests/apiclient internal/app/wire_gen.go web/dist

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: generate
generate: ## Regenerate the server, the test client (oapi-codegen) and wire_gen.go (wire)
	$(GO) generate ./internal/adapters/httpapi/gen ./tests/apiclient
	$(GO) tool wire gen ./internal/app

.PHONY: docs
docs: ## Regenerate the permission table in docs/security.md from openapi.yaml
	$(GO) run ./tests/tools/permdoc

.PHONY: console
console: web/node_modules/.package-lock.json ## Build the admin console (web/) into web/dist, which the binary embeds
	cd web && npm run -s build

# npm ci installs exactly web/package-lock.json (and stamps node_modules/.package-lock.json).
web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund --ignore-scripts >/dev/null

.PHONY: check-generated
check-generated: generate console ## Fail if generated code or the built console differs from what is committed
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		echo "generated code is stale; run 'make generate' and commit:"; \
		git status --porcelain -- $(GENERATED); git --no-pager diff --stat -- $(GENERATED); exit 1; fi

.PHONY: build
build: ## Build bin/ezapi with version information
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ezapi

.PHONY: image
image: ## Build the container image ezapi:<git describe> with Docker (Dockerfile; needs a Docker engine)
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg BUILDTIME=$(BUILDTIME) \
		-t ezapi:$(VERSION) -t ezapi:latest .

.PHONY: services
services: ## Make PostgreSQL and Redis reachable (installs and starts them when missing)
	@scripts/services.sh

.PHONY: run
run: services build ## Start what is needed and serve in development mode on 127.0.0.1:8080
	@if [ "$${EZ_MODE:-development}" = development ]; then \
		EZ_MODE=development ./$(BIN) admin bootstrap || [ $$? -eq 3 ]; fi
	EZ_MODE=$${EZ_MODE:-development} ./$(BIN) serve

.PHONY: migrate
migrate: services build ## Apply pending database migrations (ezapi migrate up)
	./$(BIN) migrate up

.PHONY: test
test: ## Unit, integration, contract, TypeScript-client, browser and deployment-kit tests against real PostgreSQL and Redis, then contract coverage
	@EZ_SERVICES_CHROMIUM=1 EZ_SERVICES_DEPLOY=1 scripts/services.sh
	@cov=$$(mktemp -d); trap 'rm -rf "$$cov"' EXIT; \
	EZ_COVERAGE_DIR=$$cov $(GO) test -count=1 -timeout 15m ./... && \
	EZ_COVERAGE_DIR=$$cov EZ_COVERAGE_CHECK=1 $(GO) test -count=1 -v -run TestContractCoverage ./tests/coverage/
	@$(MAKE) --no-print-directory test-helm

.PHONY: test-helm
test-helm: ## Lint and render the Helm chart with the pinned Helm module, decode every manifest strictly (tests/helmchart, its own Go module)
	cd tests/helmchart && $(GO) test -count=1 -timeout 20m ./...

.PHONY: test-faults
test-faults: services ## Fault suite: Redis/PostgreSQL outages, killed writers, SIGTERM under load, failover, Redis ahead of the database, cross-replica wake-up, undecryptable rows, runaway regexes, concurrent migrations, goroutine leaks
	$(GO) test -count=1 -timeout 15m -v \
		-run 'Outage|Killed|SIGTERM|Reconcile|TakesOver|Overtake|WakesThePublisher|FailClosed|Pathological|DegradesHealth|ConcurrentMigrations|NoGoroutine|FallsBack' \
		./tests/snapshot/ ./tests/logs/ ./tests/lifecycle/ ./tests/integration/ ./tests/edge/ ./tests/leak/ | grep -E '^(=== RUN|--- |ok|FAIL|PASS)'

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 20s)
	scripts/fuzz.sh

.PHONY: test-unit
test-unit: ## Unit tests only (nothing needs to run)
	$(GO) test -count=1 ./internal/... ./cmd/...

# BENCH_RUN picks benchmarks (go test -run), BENCH_TIMEOUT bounds the run; with
# EZ_BENCH_USAGE_ROWS=10000000 EZ_BENCH_USAGE_SEED=sql the usage statistics
# take about 10 more minutes (see docs/benchmarks.md for every knob).
BENCH_RUN     ?= .
BENCH_TIMEOUT ?= 30m

.PHONY: bench
bench: services ## Run the benchmarks against same-run baselines and rewrite docs/benchmarks.md
	EZ_BENCH=1 $(GO) test -count=1 -timeout $(BENCH_TIMEOUT) -run '$(BENCH_RUN)' -v ./tests/bench/ | grep --line-buffered -v '^=== RUN'

.PHONY: lint
lint: ## go vet, staticcheck and the OpenAPI linter (Redocly CLI, pinned in tests/spec-lint)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	cd tests/spec-lint && { [ -d node_modules ] || npm ci --no-audit --no-fund >/dev/null; } && npm run -s lint

.PHONY: fmt
fmt: ## Format the Go code
	gofmt -w $$(git ls-files '*.go')

.PHONY: clean
clean: ## Remove build output
	rm -rf bin tests/ts-client/node_modules tests/ts-client/src/schema.d.ts tests/artifacts web/node_modules web/src/schema.d.ts
