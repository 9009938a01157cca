# Everyday commands. CI runs `make test` through .ci/run.

GO       ?= go
BIN      := bin/pantry
DATA     ?= ./pantry-data
FUZZTIME ?= 10s

.PHONY: build run test bench lint fuzz clean vendor-mqtt

build:
	$(GO) build -o $(BIN) ./cmd/pantry

# A demo site (rooms, menu, a tablet login) in ./pantry-data; it is printed at start.
run: build
	./$(BIN) edge serve --demo --data $(DATA)

# -race needs cgo, so a C compiler (gcc): the whole suite takes under a
# minute with it, most of it in modernc's SQLite, which -race slows about 20x.
test:
	$(GO) test -race -count=1 -timeout 15m ./...

# Go benchmarks (the raw store limit among them), then the load generator
# against a real edge process: as fast as it answers, then at 500 orders/s;
# then at staff scale (50 tablets, 5,000 open orders) at 200 and 500/s.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	./$(BIN) edge loadtest --rate 0 --rate 500 --duration 10s 2>/dev/null
	./$(BIN) edge loadtest --tablets 50 --open-orders 5000 --rate 200 --rate 500 --duration 10s 2>/dev/null

lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l lists files that need gofmt -w:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# Each fuzz target for FUZZTIME (go test -fuzz runs one target at a time).
# Inputs that fail are saved under the package's testdata/fuzz: commit them.
fuzz:
	@set -e; \
	for pkg in $$($(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "==> $$target in $$pkg for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# Leaves ./pantry-data alone: it is a site's state, not a build product.
clean:
	rm -rf bin
	rm -f *.test *.prof

# The browser MQTT client of the staff app, committed under
# edge/web/static/vendor because a building has no internet: MQTT.js as
# npm publishes it (MIT; its licence beside it). This target fetches it
# again and fails if the file differs from the one committed.
MQTTJS_VERSION := 5.16.0
MQTTJS_SHA256  := f3cbeae580d3010048938ee370f2db0c15d16e6f7fc147cb32ae5510e571b387
vendor-mqtt:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	(cd $$tmp && npm pack --silent mqtt@$(MQTTJS_VERSION) >/dev/null && tar xzf mqtt-$(MQTTJS_VERSION).tgz); \
	cp $$tmp/package/dist/mqtt.min.js edge/web/static/vendor/mqtt-$(MQTTJS_VERSION).min.js; \
	cp $$tmp/package/LICENSE.md edge/web/static/vendor/mqtt-$(MQTTJS_VERSION).LICENSE.md; \
	echo "$(MQTTJS_SHA256)  edge/web/static/vendor/mqtt-$(MQTTJS_VERSION).min.js" | sha256sum -c -
