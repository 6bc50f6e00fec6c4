# MonkeyThorn Meet — two commands: `make run` and `make test`.
# Each installs what it needs first (Go modules, npm dev packages, Debian
# packages when running as root), then does its job.

GO        ?= go
BIN       := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)
export GOBIN := $(BIN)

STRIPE_MOCK_VERSION := v0.162.0
PEBBLE_VERSION      := v2.10.3
NOISE_PKG           := node_modules/@sapphi-red/web-noise-suppressor/dist

.PHONY: test-quality run test build deps test-deps go-deps npm-deps apt-deps tools vendor-web \
        test-go test-js typecheck bench fuzz clean

## run: build and start meet on http://localhost:8080 (dev mode, in-memory secret)
run: deps build
	$(BIN)/meet --dev

## test: install test dependencies, then run every test (Go, JS, types, browsers)
test: test-deps build
	$(GO) vet ./...
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory test-js
	$(MAKE) --no-print-directory test-go

build: vendor-web
	$(GO) build -o $(BIN)/meet ./cmd/meet
	@if [ -d cmd/meet-bench ]; then $(GO) build -o $(BIN)/meet-bench ./cmd/meet-bench; fi

deps: go-deps npm-deps

test-deps: deps apt-deps tools

go-deps:
	$(GO) mod download

# npm-deps: node_modules/.package-lock.json is what npm ci leaves; without it
# (no node_modules, or an empty one) install. /bin/sh's -nt is false when
# that file is missing, so it is tested on its own.
npm-deps:
	@if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		npm ci --no-audit --no-fund; fi

# Debian packages the tests drive: browsers, redis, strace, ip (netns).
apt-deps:
	@scripts/apt-deps.sh chromium redis-server strace firefox-esr iproute2

# Test servers installed from the Go module proxy into ./bin.
tools:
	@[ -x $(BIN)/stripe-mock ] || $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)
	@[ -x $(BIN)/pebble ] || $(GO) install github.com/letsencrypt/pebble/v2/cmd/pebble@$(PEBBLE_VERSION)

# The noise suppressor's WASM and worklet come from npm at build time and are
# embedded; nothing from the package is committed. Without them the binary
# still builds and the client falls back to the browser's noiseSuppression.
vendor-web:
	@if [ -d $(NOISE_PKG) ]; then mkdir -p web/vendor/noise && cp -r $(NOISE_PKG)/. web/vendor/noise/; fi

typecheck:
	npx tsc -p jsconfig.json

test-js:
	node --test e2ee-client/test/ $(wildcard web/test/*.test.js)

# The packages that drive browsers (e2ee, e2e) run one at a time after the
# rest: beside the multi-node and media tests they starve each other of the
# two cores and time-outs that hold on a quiet machine start to fail.
BROWSER_PKGS := ./e2ee/ ./e2e/
test-go:
	$(GO) test -p 2 -timeout 20m $$($(GO) list ./... | grep -v -e '/e2e$$' -e '/e2ee$$')
	$(GO) test -p 1 -timeout 20m $(BROWSER_PKGS)

## test-quality: the network scenarios of docs/quality.md (root, Chromium, ip; ~3 min)
test-quality: test-deps build
	MEET_NETEM=1 $(GO) test -count=1 -timeout 10m -run TestNetworkQuality -v ./e2e/

## bench: Go benchmarks of the forwarding hot path
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./sfu/...

## fuzz: every fuzz target for FUZZTIME each (default 60s); plain `go test`
## replays their seed corpora (testdata/fuzz). FUZZPARALLEL caps workers.
FUZZTIME     ?= 60s
FUZZPARALLEL ?=
fuzz: tools
	@scripts/fuzz.sh $(FUZZTIME) $(FUZZPARALLEL)

clean:
	rm -rf $(BIN) web/vendor
