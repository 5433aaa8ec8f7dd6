# Tickwire developer commands. `make test` is what CI runs (.ci/run).
GO ?= go

.PHONY: help run test vet bench fuzz

help:
	@echo "make run    run the bots example: a server and 3 bot clients in one process"
	@echo "make test   vet, race-enabled tests, and the js/wasm build of netcode (what CI runs)"
	@echo "make vet    go vet ./..."
	@echo "make bench  run every benchmark, reporting allocations"
	@echo "make fuzz   fuzz the wire decoder for 30s"

run:
	$(GO) run ./examples/bots

# The last two lines keep netcode compiling for the browser (js/wasm).
test: vet
	$(GO) test -race -count=1 -timeout 15m ./...
	GOOS=js GOARCH=wasm $(GO) vet ./netcode/...
	GOOS=js GOARCH=wasm $(GO) build ./netcode/...

vet:
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./netcode/internal/wire/
