# Vigil — see README.md. Targets install what they need (Debian packages, Go tools).
GO        ?= go
BIN       := bin
LDFLAGS   ?= -s -w
# Build information, as Prometheus's releases carry it (common/version; /api/v1/status/buildinfo,
# --version, vigil_build_info). Without a v* tag the version comes from the binary itself
# (internal/buildinfo). Override any of them: make build VERSION=0.2.0
VERSION    ?= $(shell git describe --tags --match 'v[0-9]*' 2>/dev/null | sed 's/^v//')
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null)
BRANCH     ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
BUILD_USER ?= $(shell whoami 2>/dev/null)@$(shell hostname 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS_VERSION := -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) -X $(VERSION_PKG).BuildUser=$(BUILD_USER) -X $(VERSION_PKG).BuildDate=$(BUILD_DATE)
GOFLAGS_B ?= -trimpath
PKGS      := ./...
# Packages with concurrency run under the race detector in `make test`.
RACE_PKGS ?= ./tsdb/... ./routing/... ./web/... ./scrape/... ./ruler/... ./promql/... ./discovery/... ./notifier/... ./remote/...

.PHONY: all build build-server build-adapter run test test-unit test-race lint bench conformance deps clean fuzz oracle oracle-update

all: build

build: build-server $(if $(wildcard cmd/adapter/*.go),build-adapter)

build-server:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_B) -ldflags '$(LDFLAGS) $(LDFLAGS_VERSION)' -o $(BIN)/vigil ./cmd/server

build-adapter:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_B) -ldflags '$(LDFLAGS) $(LDFLAGS_VERSION)' -o $(BIN)/vigil-adapter ./cmd/adapter

# Starts vigil with its embedded default configuration; data goes to ./data.
run: build-server
	./$(BIN)/vigil --storage.tsdb.path=data/ $(ARGS)

# Everything CI runs (CI=true on the CI machine).
test: deps lint ui-check test-unit test-race oracle
	@echo "make test: OK"

deps:
	@scripts/deps.sh

test-unit:
	$(GO) test -count=1 $(PKGS)
	$(GO) test -count=1 -buildmode=pie ./internal/residency/

test-race:
	$(GO) test -count=1 -race $(RACE_PKGS)

# The Prometheus Operator's own code as the oracle of Vigil's ports (a module of its own: the
# operator pins other versions). oracle-update rewrites the golden files from the operator.
oracle:
	cd discovery/operator/oracle && $(GO) test -count=1 ./...

oracle-update:
	cd discovery/operator/oracle && $(GO) test -count=1 ./... -args -update

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 60m $(PKGS)

# PromQL conformance: the upstream promqltest files, from ../shared/conformance/promql when the
# shared workspace is there, else from the upstream module in the Go module cache (the same files
# at the version go.mod pins); VIGIL_PROMQL_TESTDATA overrides the folder and VIGIL_SHARED_DIR the
# workspace. The first line printed names the folder used. `make test` runs it too (test-unit).
# Go's own PASS/ok lines are filtered so that the summary line is the last one.
conformance:
	@out=$$($(GO) test -count=1 -run '^TestConformance$$' -v ./promql/ 2>&1); rc=$$?; \
	printf '%s\n' "$$out" | grep -v -e '^=== RUN' -e '^--- ' -e '^PASS$$' -e '^FAIL$$' -e '^ok ' -e '^FAIL\s' | tail -n 80; exit $$rc

# Short fuzzing of every parser of outside input (seed corpora always run in `make test`).
FUZZTIME ?= 20s
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf $(BIN)

# End-to-end: real control plane + metrics server + vigil-adapter + HPA scaling (scripts/e2e.sh).
# Needs the shared workspace (../shared/k8s-e2e, or VIGIL_SHARED_DIR) and kubectl; says so and
# fails when they are missing.
.PHONY: e2e
e2e:
	@scripts/e2e.sh

# End-to-end for --kubernetes.crds: the operator's CRDs on the real control plane, a target in a
# network namespace (needs root), ServiceMonitor/PodMonitor/PrometheusRule/AlertmanagerConfig
# changes applied within 5 s (scripts/e2e-operator.sh).
.PHONY: e2e-operator
e2e-operator:
	@scripts/e2e-operator.sh

# What changed upstream in ported code (files listed in */UPSTREAM) between the pinned version
# and go.mod's, or VERSION (e.g. make upstream-diff VERSION=v0.316.0); LOCAL=1 shows instead
# how Vigil's port differs from upstream at the pinned version.
.PHONY: upstream-diff
upstream-diff:
	@scripts/upstream-diff.sh $(if $(LOCAL),--local) $(VERSION)

# Web UI (web/ui): `make ui` rebuilds the committed bundle web/ui/static from web/ui/src with the
# versions package-lock.json pins; `make ui-check` (part of `make test`) checks that the committed
# bundle is exactly what the sources build to, and installs web/ui/node_modules (puppeteer-core)
# for the browser suite (web/ui/browser_test.go, run by test-unit). make build/run need no node.
# `make ui-screenshots` runs the browser suite and writes the pages' screenshots to docs/screenshots.
.PHONY: ui ui-check ui-screenshots
ui:
	cd web/ui && npm ci --no-audit --no-fund --ignore-scripts && npm run --silent typecheck && npm run --silent build

ui-check:
	@scripts/ui-check.sh

ui-screenshots:
	VIGIL_UI_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^TestBrowser$$' -v ./web/ui/

# Container images without a Docker daemon (internal/tools/image; recipe in deploy/Dockerfile):
# bin/image (OCI image layout) and bin/vigil-images.tar (docker/podman load).
.PHONY: image
image: build
	$(GO) run ./internal/tools/image -vigil $(BIN)/vigil -adapter $(BIN)/vigil-adapter \
		-version $(or $(VERSION),latest) -revision '$(REVISION)' -layout $(BIN)/image -tarball $(BIN)/vigil-images.tar

# The Helm chart (deploy/helm/vigil): helm lint and helm template with the values users set
# (go test ./deploy/helm, also part of `make test`); `make manifests` rewrites the kustomize
# manifests in deploy/ from the chart (the test fails when they drift).
.PHONY: chart manifests
chart: deps
	HELM=$(CURDIR)/$(BIN)/helm $(GO) test -count=1 ./deploy/helm/

manifests: deps
	HELM=$(CURDIR)/$(BIN)/helm $(GO) test -count=1 -run TestKustomizeManifestsInSync ./deploy/helm/ -update

# The chart's manifests (CRDs included) pass server-side dry run on the real control plane;
# part of make e2e (scripts/e2e-chart.sh).
.PHONY: e2e-chart
e2e-chart: deps
	@scripts/e2e-chart.sh

# Side-by-side scale benchmark against the peers (docs/performance.md): PROFILE = scale-10k,
# scale-100k, scale-1m, churn (scripts/bench/side.sh, through ../shared/bench/run.sh), history
# (scripts/bench/history.sh), or curve (scale-10k, scale-100k and scale-1m one after the other).
# SERVERS limits the servers (default: vigil prometheus3 victoriametrics). Results: /tmp/bench-scale.
PROFILE ?= scale-10k
SERVERS ?=
.PHONY: bench-side
bench-side: build-server
	@case "$(PROFILE)" in \
	history) scripts/bench/history.sh ;; \
	curve) for p in scale-10k scale-100k scale-1m; do scripts/bench/side.sh $$p $(SERVERS) || exit 1; done ;; \
	*) scripts/bench/side.sh $(PROFILE) $(SERVERS) ;; \
	esac
