# dray - run `make help` for the targets.
#
# Tool versions are pinned here; tools install into .tools/bin on first use.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
TOOLS     := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(PATH)

BUF_VERSION           := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
VTPROTO_VERSION       := v0.6.0
GOLANGCI_VERSION      := v2.15.0
NATS_SERVER_VERSION   := v2.15.2
NFPM_VERSION          := v2.45.2

# VERSION is the version of the packages `make package` builds; DIST where
# they go; DEB_ARCH the architecture of the .deb packages (this machine's:
# their systemd units are rendered by running the binaries).
VERSION  ?= 0.1.0
DIST     ?= $(CURDIR)/dist
DEB_ARCH ?= $(shell $(GO) env GOARCH)

# FUZZTIME is how long each fuzz target runs inside `make test`.
FUZZTIME   ?= 10s
# TESTFLAGS are passed to `go test` by test and test-short.
TESTFLAGS  ?=
TEST_TIMEOUT ?= 30m

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build every binary into bin/.
	@mkdir -p bin
	@mains=$$($(GO) list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./... | grep '/cmd/' || true); \
	if [ -n "$$mains" ]; then $(GO) build -o bin/ $$mains; fi
	@ls bin

.PHONY: deps
deps: ## Install (idempotently) the Debian packages the tests use for real.
	@testenv/deps.sh

.PHONY: test
test: deps ## Run every test (integration included) and a short fuzz run of every fuzz target.
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...
	@$(MAKE) --no-print-directory fuzz-short

.PHONY: test-short
test-short: ## Run the unit tests only (-short skips integration tests).
	$(GO) test -short -count=1 $(TESTFLAGS) ./...

.PHONY: fuzz-short
# A fuzz run that ends with "context deadline exceeded" and no failing
# input is Go's fuzzing coordinator reaching -fuzztime while it minimizes
# a new corpus entry, not a finding: that target runs once more. A real
# finding writes "Failing input written to …" and fails at once.
fuzz-short: ## Run each fuzz target for FUZZTIME (default 10s).
	@for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
	    for try in 1 2; do \
	      if $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg >/tmp/dray-fuzz.log 2>&1; then break; fi; \
	      if [ $$try = 1 ] && grep -q 'context deadline exceeded' /tmp/dray-fuzz.log && ! grep -q 'Failing input written' /tmp/dray-fuzz.log; then \
	        echo "  (the fuzzing coordinator hit its deadline, no failing input: once more)"; continue; fi; \
	      cat /tmp/dray-fuzz.log; exit 1; \
	    done; \
	  done; \
	done

# DURATION (a Go duration) makes `make demo` run unattended and end with the
# ground-truth check; empty: until Ctrl-C. (`make chaos` reads it too.)
.PHONY: demo
demo: ## Run the demo: a simulated warehouse → agent → relay → reference ERP and TMS on loopback, with live progress; DURATION=60s runs unattended and checks the ground truth.
	@mkdir -p bin
	$(GO) build -o bin/dray-demo ./testenv/cmd/dray-demo
	bin/dray-demo --bin $(CURDIR)/bin $(if $(DURATION),--duration $(DURATION),)

# BENCHFLAGS are passed to dray-bench by bench: -only REGEXP runs some
# scenarios (and their peers), -stdout prints the table instead of writing it.
BENCHFLAGS ?=

.PHONY: bench
bench: deps $(TOOLS)/nats-server ## Run every issue's benchmarks and their peers (mosquitto, NATS JetStream, raw limits), ~10 min; writes the table into docs/PERFORMANCE.md.
	$(GO) run ./testenv/cmd/dray-bench $(BENCHFLAGS)

# PROFILE (default: ~10 min; short: ~2 min), SEED and DURATION (a Go
# duration; empty: the profile's) steer `make chaos`.
PROFILE ?= default
SEED    ?= 1

.PHONY: chaos
chaos: deps ## Run the reliability harness (README, Reliability): seeded faults, then exact loss/duplicate counts; PROFILE=default|short SEED=n DURATION=10m.
	$(GO) run ./testenv/cmd/dray-chaos --profile $(PROFILE) --seed $(SEED) $(if $(DURATION),--duration $(DURATION),)

.PHONY: lint
lint: $(TOOLS)/golangci-lint ## Run go vet and golangci-lint (pinned).
	$(GO) vet ./...
	$(TOOLS)/golangci-lint run ./...

.PHONY: fmt
fmt: ## Format the Go code.
	gofmt -w $$(git ls-files '*.go' | grep -v '\.pb\.go$$')

.PHONY: generate
generate: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-vtproto ## Regenerate code (protobuf, JSON Schema); the output is committed.
	cd canonical/proto && $(TOOLS)/buf lint && $(TOOLS)/buf generate
	$(GO) generate ./...

$(TOOLS)/buf:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-vtproto:
	GOBIN=$(TOOLS) $(GO) install github.com/planetscale/vtprotobuf/cmd/protoc-gen-go-vtproto@$(VTPROTO_VERSION)
$(TOOLS)/nfpm:
	GOBIN=$(TOOLS) $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
$(TOOLS)/nats-server:
	GOBIN=$(TOOLS) $(GO) install github.com/nats-io/nats-server/v2@$(NATS_SERVER_VERSION)
$(TOOLS)/golangci-lint:
	GOBIN=$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

.PHONY: package
package: $(TOOLS)/nfpm ## Build .deb packages of agent and relay (this machine's arch), a Windows zip and a linux/arm64 tar.gz of the agent into DIST (dist/).
	@rm -rf $(DIST) && mkdir -p $(DIST)/stage
	CGO_ENABLED=0 GOOS=linux GOARCH=$(DEB_ARCH) $(GO) build -trimpath -o $(DIST)/linux_$(DEB_ARCH)/ ./agent/cmd/dray-agent ./relay/cmd/dray-relay
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -o $(DIST)/linux_arm64/ ./agent/cmd/dray-agent
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -trimpath -o $(DIST)/windows_amd64/ ./agent/cmd/dray-agent
	NFPM=$(TOOLS)/nfpm installer/packaging/deb.sh $(DIST)/linux_$(DEB_ARCH) $(DIST) $(VERSION) $(DEB_ARCH)
	@a=$(DIST)/stage/dray-agent_$(VERSION)_linux_arm64 && mkdir -p $$a && \
	  cp $(DIST)/linux_arm64/dray-agent docs/examples/agent.yaml $$a/ && \
	  $(DIST)/linux_$(DEB_ARCH)/dray-agent print-unit > $$a/dray-agent.service
	tar -C $(DIST)/stage -czf $(DIST)/dray-agent_$(VERSION)_linux_arm64.tar.gz dray-agent_$(VERSION)_linux_arm64
	@w=$(DIST)/stage/dray-agent_$(VERSION)_windows_amd64 && mkdir -p $$w && \
	  cp $(DIST)/windows_amd64/dray-agent.exe docs/examples/agent.yaml $$w/
	cd $(DIST)/stage && zip -q -r $(DIST)/dray-agent_$(VERSION)_windows_amd64.zip dray-agent_$(VERSION)_windows_amd64
	@rm -rf $(DIST)/stage
	@ls -l $(DIST)/*.deb $(DIST)/*.zip $(DIST)/*.tar.gz

.PHONY: clean
clean: ## Remove build output.
	rm -rf bin dist
