# clawbroker: the two commands a new user needs are `make run` and `make test`.
GO        ?= go
OPA       := $(GO) tool opa
REGO_DIRS := policies rego_test
COVERAGE_MIN ?= 90
ARGS      ?=
REGO_COVERAGE := $(or $(TMPDIR),/tmp)/clawbroker-rego-coverage.json

.PHONY: run test deps vet gotest rego bench fmt lint build clean

build:
	$(GO) build -o bin/clawbroker ./cmd/clawbroker

run: build
	./bin/clawbroker serve $(ARGS)

# deps installs what the tests need on a fresh Debian/Ubuntu machine.
deps:
	@missing=""; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@command -v bwrap >/dev/null && command -v redis-server >/dev/null || \
		{ echo "bubblewrap and redis-server are required: apt-get install bubblewrap redis-server"; exit 1; }

test: deps vet rego gotest

vet:
	GOOS=linux   $(GO) vet ./...
	GOOS=darwin  $(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin  $(GO) test -c -o /dev/null ./sandbox
	GOOS=windows $(GO) test -c -o /dev/null ./sandbox

gotest:
	$(GO) test -race -count=1 ./...

rego:
	$(OPA) fmt --list --fail $(REGO_DIRS)
	$(OPA) check --strict $(REGO_DIRS)
	$(OPA) test --coverage --threshold $(COVERAGE_MIN) $(REGO_DIRS) > $(REGO_COVERAGE) || \
		{ $(OPA) test -v $(REGO_DIRS); echo "rego tests failed or coverage below $(COVERAGE_MIN)%"; exit 1; }
	@$(OPA) test $(REGO_DIRS)
	@echo "rego coverage: $$(grep '"coverage"' $(REGO_COVERAGE) | tail -1 | tr -dc '0-9.')% (threshold $(COVERAGE_MIN)%)"

# bench prints every target as a ratio against a baseline measured in the
# same run, and rewrites docs/BENCHMARKS.md from it.
bench:
	CLAWBROKER_BENCH_WRITE=$(CURDIR)/docs/BENCHMARKS.md $(GO) test -run '^$$' -bench . -benchtime 2s ./broker/policy ./broker/audit ./sandbox ./crypto/credstore ./broker/gateway

fmt:
	gofmt -w $$(git ls-files '*.go')
	$(OPA) fmt -w $(REGO_DIRS)

lint: vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(OPA) fmt --list --fail $(REGO_DIRS)
	$(OPA) check --strict $(REGO_DIRS)

clean:
	rm -rf bin
