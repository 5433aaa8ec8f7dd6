# Tickwire developer commands. `make test` is what CI runs (.ci/run).
GO ?= go

.PHONY: help run wasm js test vet bench fuzz soak

help:
	@echo "make run    build the browser demo (on the TypeScript client; its Go twin at /go/) and serve it with a lobby and its game server: open http://127.0.0.1:8080 in two tabs"
	@echo "make wasm   build the browser client into build/web: tickwire.wasm (stripped), wasm_exec.js, tickwire.js, tickwire.d.ts"
	@echo "make js     build and unit-test the TypeScript client in js/ (@tickwire/client: npm ci, esbuild, tsc, node --test)"
	@echo "make test   vet, race-enabled tests, a short run of every fuzz target, and the js/wasm build of the client (what CI runs)"
	@echo "make vet    go vet ./..."
	@echo "make bench  run the Go benchmarks, then regenerate bench/RESULTS.md (takes several minutes)"
	@echo "make fuzz   run every fuzz target (FUZZ_TARGETS) for FUZZTIME each, $(FUZZTIME) by default"
	@echo "make soak   TestChurnSoak with SOAK_CYCLES players ($(SOAK_CYCLES)) through a lobby and game server, then checks for leaks"

# The page (examples/web) on the TypeScript client (js/, built into
# tickwire.js), in build/web, served by the lobby command with its embedded
# game server; and at /go/ the same game written in Go (examples/godots).
run:
	cd js && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; } && npm run build
	mkdir -p build/web/go
	cp js/dist/tickwire.js js/dist/tickwire.js.map examples/web/* build/web/
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o build/web/go/godots.wasm ./examples/godots
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" examples/godots/index.html build/web/go/
	$(GO) run ./lobby/cmd/lobby -web build/web -fill-wait 2s

# The browser client: the Go lobby and netcode clients as WebAssembly
# (wasm/main.go), Go's wasm_exec.js, and the JS loader with its TypeScript
# declarations, side by side in build/web. Prints the .wasm's size: the goal
# is at most 6 MiB, and 1.6 MiB gzipped.
wasm:
	mkdir -p build/web
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o build/web/tickwire.wasm ./wasm
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" wasm/tickwire.js wasm/tickwire.d.ts build/web/
	@echo "build/web/tickwire.wasm: $$(wc -c < build/web/tickwire.wasm) bytes, $$(gzip -9 -c build/web/tickwire.wasm | wc -c) gzipped"

# The TypeScript client, @tickwire/client (js/): npm ci from the committed
# lockfile when node_modules is missing or older than it, then the bundle,
# the type check, the unit tests under node and the size budget. The
# browser tests of wasm/ load the bundle it leaves in js/dist.
js:
	@if command -v npm >/dev/null 2>&1; then \
		cd js && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; } && npm test; \
	elif [ "$$CI" = true ]; then \
		echo "npm is missing for the TypeScript client in js/: apt-get install -y nodejs npm"; exit 1; \
	else \
		echo "skipping the TypeScript client in js/: install node and npm (apt-get install -y nodejs npm)"; \
	fi

# The js/wasm lines come first: they keep the browser client compiling, and
# the stripped build warms the cache for the browser tests in wasm/, so that
# compiling it does not compete for the CPU with the network tests running
# beside it.
test: vet js
	GOOS=js GOARCH=wasm $(GO) vet ./netcode/... ./lobby/ ./wasm/ ./internal/browser/ ./examples/godots/
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o /dev/null ./wasm
	$(GO) test -race -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_TEST)
	@if command -v node >/dev/null 2>&1; then \
		echo "GOOS=js GOARCH=wasm go test ./wasm/ ./lobby/ ./internal/browser/ (under node)"; \
		PATH="$$($(GO) env GOROOT)/lib/wasm:$$PATH" GOOS=js GOARCH=wasm $(GO) test -count=1 ./wasm/ ./lobby/ ./internal/browser/; \
	elif [ "$$CI" = true ]; then \
		echo "node is missing for the js/wasm tests of wasm/, lobby/ and internal/browser/: apt-get install -y nodejs"; exit 1; \
	else \
		echo "skipping the js/wasm tests of wasm/, lobby/ and internal/browser/: install node (apt-get install -y nodejs)"; \
	fi

vet:
	$(GO) vet ./...

# The Go benchmarks print to the terminal; `bench results` runs the bench
# tool's standard set (rtt, loss, grid, a ccu sweep with a CPU profile), each
# in its own process, and writes the figures with the machine and commands.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./bench results -o bench/RESULTS.md -go $(GO)

# Every decoder of untrusted input has a fuzz target, listed here as
# package:Target, one a line. `make fuzz` runs each for FUZZTIME; `make test`
# runs each for FUZZTIME_TEST, a count of inputs rather than seconds, so that
# its cost and coverage do not depend on how busy the machine is (their
# seeds also run, with -race, in `go test ./...`).
FUZZTIME ?= 30s
FUZZTIME_TEST ?= 500x
FUZZ_TARGETS = \
	./lobby/internal/proto:FuzzDecode \
	./lobby/internal/proto:FuzzDecodeLimits \
	./lobby:FuzzGuestToken \
	./lobby:FuzzGuestEndpoint \
	./lobby:FuzzGuestAnswer \
	./lobby:FuzzTURNCredentials \
	./netcode/internal/wire:FuzzDecode \
	./netcode/internal/repl:FuzzApply \
	./netcode/internal/repl:FuzzParseType \
	./netcode/internal/repl:FuzzPlayout \
	./netcode:FuzzResumeToken \
	./netcode:FuzzSignalJSON \
	./netcode:FuzzSignalMessage \
	./netcode:FuzzAccept \
	./netcode:FuzzDialAnswer \
	./netcode:FuzzCandidates \
	./netcode/internal/icemux:FuzzSTUN \
	./internal/mpcheck:FuzzValueLen \
	./wasm:FuzzPayloadDecode \
	./wasm:FuzzPayloadRoundTrip \
	./wasm:FuzzParseMatch \
	./internal/dots:FuzzDecodeMove \
	./internal/dots:FuzzDecodeSnapshot \
	./internal/dots:FuzzDecodeEvent

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "$(GO) test -run '^$$' -fuzz '^$${t#*:}$$' -fuzztime $(FUZZTIME) $${t%%:*}"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) $${t%%:*}; \
	done

# The churn soak at length: `make test` runs TestChurnSoak with 1000 players.
SOAK_CYCLES ?= 5000
soak:
	TICKWIRE_CHURN_CYCLES=$(SOAK_CYCLES) $(GO) test -race -count=1 -timeout 30m -run '^TestChurnSoak$$' -v ./lobby/
