# Tickwire developer commands. `make test` is what CI runs (.ci/run).
GO ?= go

.PHONY: help run test vet bench fuzz

help:
	@echo "make run    run a lobby and its embedded game server on localhost (then: go run ./examples/lobbybots)"
	@echo "make test   vet, race-enabled tests, and the js/wasm build of the client (what CI runs)"
	@echo "make vet    go vet ./..."
	@echo "make bench  run the Go benchmarks, then regenerate bench/RESULTS.md (takes several minutes)"
	@echo "make fuzz   fuzz the wire decoder for 30s"

run:
	$(GO) run ./lobby/cmd/lobby

# The last two lines keep the browser client (netcode and the lobby client) compiling for js/wasm.
test: vet
	$(GO) test -race -count=1 -timeout 15m ./...
	GOOS=js GOARCH=wasm $(GO) vet ./netcode/... ./lobby/
	GOOS=js GOARCH=wasm $(GO) build ./netcode/... ./lobby/

vet:
	$(GO) vet ./...

# The Go benchmarks print to the terminal; `bench results` runs the bench
# tool's standard set (rtt, loss, grid, a ccu sweep with a CPU profile), each
# in its own process, and writes the figures with the machine and commands.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./bench results -o bench/RESULTS.md -go $(GO)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./netcode/internal/wire/
