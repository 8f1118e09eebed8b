# Sluice build and test entry points. `make run` starts a worker with the
# embedded broker; `make test` runs every unit and integration test with
# the race detector against real servers started on 127.0.0.1.

GO        ?= go
BIN       := bin/sluice
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
STATICCHECK_VERSION := v0.8.2
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
# go test's per-package timeout: the it package alone ran 1296 s (22 minutes)
# of a 31-minute CI run at load 4-5 (2026-12-04); 40m keeps a loaded machine from
# turning slowness into a failure.
TEST_TIMEOUT ?= 40m
FUZZTIME  ?= 20s

.PHONY: build run test unit it chaos it-mysql-load lint bench fuzz fuzz-smoke docs it-compose tools clean

## build: a static binary (no cgo, no libc), checked by make lint
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/sluice

## run: a worker with the embedded broker (data in ./sluice-data, REST on :8083)
run: build
	./$(BIN) worker

## test: lint, a short fuzz smoke, the RSS bounds (large transactions, S3, a task process) without
## -race (PostgreSQL; MySQL at the issue's 2M rows: the race detector
## inflates memory and slows the worker, so the tight bounds are asserted
## there), then unit and integration tests with -race (last, so that go
## test's own summary closes the output)
test: lint fuzz-smoke
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run '^(TestLargeTransactionBoundedMemory|TestMySQLLargeTransactionBoundedMemory)$$' ./it/
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run '^TestMemoryRSS$$' ./connectors/s3/
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run '^TestIsolatedTaskFitsTheMemoryFloor$$' ./runtime/
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /it$$)

it:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./it/...

## chaos: 100 rounds of kill -9 of a worker running the embedded broker,
## at least once and with exactly.once.source.support=enabled
## (TestEmbeddedBrokerChaos, TestEmbeddedBrokerExactlyOnceChaos; `make test`
## runs a short smoke of both)
chaos:
	SLUICE_IT_CHAOS_ROUNDS=100 $(GO) test -race -count=1 -timeout 90m -run '^TestEmbeddedBroker(ExactlyOnce)?Chaos$$' ./it/

## it-mysql-load: TestMySQLSysbench at the issue's size (sysbench oltp_write_only,
## 4 tables x 100k rows, 60 s phases, 4 threads, unthrottled) with a kill -9 of the
## worker mid-snapshot and mid-stream and of MariaDB mid-stream; without -race (the
## race-built worker is several times slower); `make test` runs a short smoke of it
it-mysql-load:
	SLUICE_IT_SYSBENCH_FULL=1 $(GO) test -count=1 -timeout 60m -v -run '^TestMySQLSysbench$$' ./it/

## lint: vet, staticcheck, gofmt; go.mod tidy, docs/ up to date, bin/sluice static,
## the SPI, the codecs, config and offsets free of the Kafka client, connectors/cdc
## free of it and of every connector
lint: build
	$(GO) vet ./...
	@test -x $(STATICCHECK) || { echo "staticcheck missing: run 'make tools'"; exit 1; }
	$(STATICCHECK) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum not tidy: run 'go mod tidy'"; exit 1; }
	@tmp=$$(mktemp -d); ./$(BIN) docs -out $$tmp/connectors && diff -u docs/configuration.md $$tmp/configuration.md && \
	  diff -ru docs/connectors $$tmp/connectors; status=$$?; rm -rf $$tmp; \
	  test $$status -eq 0 || { echo "docs/ out of date: run 'make docs'"; exit 1; }
	@$(GO) version -m $(BIN) | grep -q 'CGO_ENABLED=0' || { echo "$(BIN) was built with cgo: build it with 'make build'"; exit 1; }
	@$(GO) run ./internal/cmd/checkstatic $(BIN)
	@! $(GO) list -deps ./connectors ./connectors/codec/... ./config ./offsets | grep -E 'franz-go|sluice/runtime' || \
	  { echo "the connector SPI, the codecs, config or offsets import the Kafka client or the runtime (above): keep them below"; exit 1; }
	@! $(GO) list -deps ./connectors/cdc | grep -E 'franz-go|sluice/runtime|sluice/connectors/(postgres|jdbc|datagen|mysql|s3)' || \
	  { echo "connectors/cdc imports the Kafka client, the runtime or a connector (above): it is shared by the connectors, so it stays below them"; exit 1; }
	@! $(GO) list -deps ./connectors/cdc/... | grep -E 'sluice/runtime|sluice/connectors/(postgres|jdbc|datagen|mysql|s3)' || \
	  { echo "a package under connectors/cdc imports the runtime or a connector (above): keep it below the connectors"; exit 1; }

tools:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## bench: the performance figures of docs/benchmarks.md, each against its raw limit
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 60m ./...

## fuzz: every fuzz target for FUZZTIME each (longer runs: make fuzz FUZZTIME=10m)
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

fuzz-smoke:
	$(MAKE) fuzz FUZZTIME=3000x

## docs: regenerate docs/connectors from the connectors' config definitions
docs: build
	./$(BIN) docs -out docs/connectors

## it-compose: the integration suite against the containers of it/compose.yaml
it-compose:
	docker compose -f it/compose.yaml up -d --wait
	SLUICE_IT_KAFKA_BOOTSTRAP=127.0.0.1:19092 \
	SLUICE_IT_POSTGRES_URL='postgres://postgres:postgres@127.0.0.1:15432/postgres?sslmode=disable' \
	SLUICE_IT_MYSQL_DSN='root:root@tcp(127.0.0.1:13306)/?parseTime=true&multiStatements=true' \
	SLUICE_IT_S3_ENDPOINT=http://127.0.0.1:17070 SLUICE_IT_S3_ACCESS_KEY=sluiceit SLUICE_IT_S3_SECRET_KEY=sluiceit-secret-key \
	  $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./it/... ; \
	  status=$$?; docker compose -f it/compose.yaml down -v; exit $$status

clean:
	rm -rf bin
