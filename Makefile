# Run `make help` for the targets. Everything a target needs, it installs.
SHELL := /bin/bash
GO ?= go
BIN := bin/taxii-server
SCHEMAS := internal/stix/schemas
PKGS := ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: schemas
schemas: ## copy (or download and verify) the pinned OASIS STIX 2.1 schemas the binary embeds
	@bash scripts/schemas.sh $(SCHEMAS)

.PHONY: build
build: schemas ## build the static binary into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/taxii-server

.PHONY: run
run: schemas ## run the server on the embedded store (no setup; data in ./data)
	CGO_ENABLED=0 $(GO) run ./cmd/taxii-server serve

.PHONY: test
test: schemas ## run every test with the race detector (needs Postgres: TAXII_TEST_DATABASE_URL, default 127.0.0.1:5432)
	@# One package (the Postgres store suite) nears the default 10 min under -race on a loaded machine.
	$(GO) test -race -count=1 -timeout 30m $(PKGS)
	@# Too slow under the race detector, so it runs here without it.
	set -o pipefail; $(GO) test -count=1 -run '^TestAddObjects100000$$' -v ./internal/taxii/ | grep -E '^(--- |ok|FAIL|PASS)'

.PHONY: fuzz
# Go 1.26's fuzz coordinator can end a run with "context deadline exceeded", and no failing
# input behind it, when a duration runs out on a loaded machine (golang/go#75804, fixed in
# Go 1.27; CI hit it): so a run is a count of inputs, and new inputs are not minimised.
FUZZ_PKGS ?= $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)
fuzz: schemas ## run every fuzz target briefly (FUZZTIME=200000x inputs each; FUZZ_PKGS=./internal/stix for some)
	@for p in $(FUZZ_PKGS); do \
		for t in $$($(GO) test -list '^Fuzz' $$p | grep ^Fuzz); do \
			echo "fuzz $$p $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-200000x} -fuzzminimizetime 0s $$p || exit 1; \
		done; done

# The load benchmark: BENCH_N generated indicators on BENCH_STORE (postgres or sqlite;
# postgres creates and drops a database on BENCH_PG); BENCH_FLAGS adds taxii-bench flags
# (-json FILE, -runs N, -pollers 50,200, -quick; `go run ./cmd/taxii-bench -h` lists them).
# BENCH_LIST_N=1000000 sizes the blocklist and IOC lookup micro-benchmarks (internal/export; 100000 by default).
BENCH_N ?= 100000
BENCH_STORE ?= postgres
BENCH_PG ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
BENCHTIME ?= 200ms
BENCH_FLAGS ?=

.PHONY: bench
bench: schemas ## Go micro-benchmarks (BENCHTIME each), then the load benchmark of a real server (BENCH_N, BENCH_STORE)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)
	$(GO) run ./cmd/taxii-bench -n $(BENCH_N) -store $(BENCH_STORE) -pg '$(BENCH_PG)' $(BENCH_FLAGS)

# staticcheck, pinned, installed by go into the git-ignored bin/; the versioned name reinstalls on a change.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := bin/staticcheck-$(STATICCHECK_VERSION)

.PHONY: lint
lint: schemas openapi-lint $(STATICCHECK) ## go vet, gofmt, staticcheck and the OpenAPI lint
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

$(STATICCHECK):
	GOBIN=$(CURDIR)/bin/sc-tmp $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv bin/sc-tmp/staticcheck $@ && rm -rf bin/sc-tmp

# @redocly/cli, installed by npm into the git-ignored bin/node; the stamp reinstalls on a version change.
REDOCLY_VERSION := 2.77.0
REDOCLY := bin/node/node_modules/.bin/redocly
REDOCLY_STAMP := bin/node/.redocly-$(REDOCLY_VERSION)

$(REDOCLY_STAMP):
	npm install --prefix bin/node --no-audit --no-fund --loglevel=error @redocly/cli@$(REDOCLY_VERSION)
	@touch $@

.PHONY: openapi-lint
openapi-lint: $(REDOCLY_STAMP) ## lint api/openapi.yaml with @redocly/cli (npm installs it into bin/node)
	$(REDOCLY) lint --config api/redocly.yaml api/openapi.yaml

# Release: static binaries for each platform, packed with the README and the example bundle,
# a .deb per Linux architecture (nfpm, pinned, installed by go into the git-ignored bin/), and SHA256SUMS.
DIST := dist
PLATFORMS := linux/amd64 linux/arm64 darwin/arm64 windows/amd64
# Debian versions must start with a digit: a bare commit becomes 0.0.0~<commit>.
DEB_VERSION := $(shell echo '$(VERSION)' | sed -E 's/^v//; /^[0-9]/!s/^/0.0.0~/; s/-/~/g')
NFPM_VERSION := v2.41.3
NFPM := bin/nfpm-$(NFPM_VERSION)

$(NFPM):
	GOBIN=$(CURDIR)/bin/nfpm-tmp $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
	mv bin/nfpm-tmp/nfpm $@ && rm -rf bin/nfpm-tmp

.PHONY: dist
dist: schemas $(NFPM) ## release archives (linux/amd64, linux/arm64, darwin/arm64, windows/amd64), .debs and SHA256SUMS in dist/
	rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; name=taxii-server_$(VERSION)_$${os}_$${arch}; dir=$(DIST)/$$name; ext=; \
		if [ $$os = windows ]; then ext=.exe; fi; \
		echo "dist: $$name"; mkdir -p $$dir; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$dir/taxii-server$$ext ./cmd/taxii-server; \
		cp README.md $$dir/ && cp -r examples $$dir/; \
		if [ $$os = windows ]; then (cd $(DIST) && zip -qr $$name.zip $$name); else tar -C $(DIST) -czf $(DIST)/$$name.tar.gz $$name; fi; \
		if [ $$os = linux ]; then \
			mkdir -p $(DIST)/stage && cp $$dir/taxii-server $(DIST)/stage/; \
			VERSION='$(DEB_VERSION)' ARCH=$$arch $(NFPM) package -f packaging/nfpm.yaml -p deb -t $(DIST)/; \
			rm -rf $(DIST)/stage; \
		fi; \
		rm -rf $$dir; \
	done
	cd $(DIST) && sha256sum $$(ls *.tar.gz *.zip *.deb 2>/dev/null) > SHA256SUMS && cat SHA256SUMS

.PHONY: deb-test
# Only this machine's platform: the test installs its .deb, and CI need not cross-build the rest.
deb-test: PLATFORMS = linux/$(shell $(GO) env GOARCH)
deb-test: dist ## install this machine's .deb with dpkg -i (root), start the unit's command, then purge it
	$(GO) test -count=1 -tags debtest -v ./packaging/

# Docker Compose v2, pinned, built by go into the git-ignored bin/ (~7 min cold on 2 cores). Its
# go.mod has exclude directives, which `go install pkg@version` refuses, so it is built in the
# module's own folder of the module cache (read-only; go writes nothing there).
COMPOSE_VERSION := v2.40.3
COMPOSE := bin/docker-compose-$(COMPOSE_VERSION)

$(COMPOSE):
	@mkdir -p bin
	dir=$$(cd / && $(GO) mod download -json github.com/docker/compose/v2@$(COMPOSE_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'); \
	test -n "$$dir" && cd "$$dir" && CGO_ENABLED=0 $(GO) build -trimpath \
		-ldflags '-s -w -X github.com/docker/compose/v2/internal.Version=$(COMPOSE_VERSION)' -o $(CURDIR)/$@.tmp ./cmd
	mv $@.tmp $@

.PHONY: compose-test
compose-test: build $(COMPOSE) ## run deploy/docker-compose.yml for real (root: podman, local images), poll a feed, restart, tear down
	COMPOSE=$(COMPOSE) VERSION=$(VERSION) bash scripts/compose-test.sh

.PHONY: clean
clean: ## remove build output and the copied schemas
	rm -rf bin $(DIST) $(SCHEMAS)
