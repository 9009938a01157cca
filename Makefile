# Everyday commands. CI runs `make test` through .ci/run.

GO       ?= go
BIN      := bin/pantry
DATA     ?= ./pantry-data
FUZZTIME ?= 10s

# What `make image` and `make package` stamp: the commit and its date (so
# two builds of one commit are alike), and a Debian version that sorts
# before a release of the same number.
REVISION    := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
COMMIT_TIME := $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
VERSION     ?= 0.1.0~git$(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S 2>/dev/null || echo 0).$(REVISION)
PODMAN      ?= podman
IMAGE       ?= localhost/pantry:latest

.PHONY: build run test test-citus bench lint fuzz clean vendor-mqtt image package

# A static binary (modernc SQLite is pure Go): the same one runs on any
# Linux, in the FROM scratch image and from the Debian package. The deploy
# tests build it with these flags too.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN) ./cmd/pantry

# The container image, FROM scratch, without a registry: see
# deploy/Containerfile. --format docker keeps its HEALTHCHECK.
image: build
	deploy/image-context.sh $(BIN) bin/image
	$(PODMAN) build --format docker -f deploy/Containerfile -t $(IMAGE) \
		--build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
		--build-arg CREATED=$$(date -u -d @$(COMMIT_TIME) +%Y-%m-%dT%H:%M:%SZ) bin/image
	@echo "$(IMAGE): $$($(PODMAN) image inspect --format '{{.Size}}' $(IMAGE)) bytes"

# bin/pantry_VERSION_ARCH.deb: the binary, both systemd units, the pantry
# user and /var/lib/pantry; see deploy/debian/build.sh.
package: build
	SOURCE_DATE_EPOCH=$(COMMIT_TIME) deploy/debian/build.sh $(BIN) $(VERSION) bin

# A demo site (rooms, menu, a tablet login) in ./pantry-data; it is printed at start.
run: build
	./$(BIN) edge serve --demo --data $(DATA)

# -race needs cgo, so a C compiler (gcc); modernc's SQLite is about 20x
# slower under it. Then the cloud's suites again on a Citus cluster
# (test-citus). About 15 minutes in all on 2 cores.
test:
	$(GO) test -race -count=1 -timeout 15m ./...
	$(MAKE) test-citus

# The cloud's suites on a Citus cluster (a coordinator and two workers that
# internal/pgtest starts; Citus from ../shared/citus/build.sh), without
# -race, which the plain run already covers: the store, the API with its
# isolation attacks, the dashboard, single sign-on, the monitoring
# metrics, and the command-line tests that run real cloud processes, the
# fault injection among them (one seed; it restarts the coordinator and a
# worker). The tests of distribution itself (routing, rebalancing, the
# Citus harness) make their own Citus databases and run in the plain run;
# they are skipped here rather than run twice.
CITUS_CMD_TESTS = TestSyncFaultInjection$$|TestCloudMigrate|TestCloudBootstrap|TestCloudLoadtestSmallFleet|TestDashboardLiveOrdersAndFleet
CITUS_ONLY_TESTS = TestTenantIsolationOnMovedShards|TestCitusRouting|TestCitusDashboardRouting|TestCitusPushPlans|TestAddCitusWorker|TestCitusClusterRestart
test-citus:
	PANTRY_TEST_DB=citus $(GO) test -count=1 -timeout 20m -skip '$(CITUS_ONLY_TESTS)' ./internal/pgtest/ ./cloud/postgres/ ./cloud/api/ ./cloud/web/ ./cloud/sso/
	PANTRY_TEST_DB=citus $(GO) test -count=1 -timeout 20m -run 'TestMonitoringMetricsExist' ./deploy/
	PANTRY_TEST_DB=citus $(GO) test -count=1 -timeout 20m -run '$(CITUS_CMD_TESTS)' ./cmd/pantry/

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
