# tailor: online schema changes for MySQL and MariaDB.
GO ?= go

.PHONY: build test demo bench server vet fmt

build:
	$(GO) build -o bin/tailor ./cmd/tailor

# server installs MariaDB when no mariadbd is on the machine (Debian/Ubuntu),
# and the time zone rules (tzdata), which the time zone tests run a server in.
server:
	@if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then \
		echo "mariadbd not found; installing mariadb-server"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y mariadb-server; \
	fi
	@if [ ! -e /usr/share/zoneinfo/Europe/Amsterdam ]; then \
		echo "time zone rules not found; installing tzdata"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y tzdata; \
	fi

# test runs the whole suite against throwaway mariadbd sandboxes the tests start themselves.
test: server
	$(GO) test -race -count=1 -timeout 15m ./...

# demo runs cmd/tailor-demo (kept out of bin/tailor, with its write load) in
# a throwaway sandbox. Flags go in DEMO_ARGS, e.g.
# make demo DEMO_ARGS=--crash-and-resume: bin/tailor is killed with SIGKILL
# in the middle of the copy and resumed with --resume.
DEMO_ARGS ?=
demo: server build
	$(GO) build -o bin/tailor-demo ./cmd/tailor-demo
	./bin/tailor-demo $(DEMO_ARGS)

# bench compares native ALTER, pt-online-schema-change and tailor on a
# sysbench-shaped table in a sandbox (docs/benchmarks.md). It installs
# percona-toolkit when missing and runs without pt-osc if that fails.
# Flags go in BENCH_ARGS, e.g. make bench BENCH_ARGS="--rows 200000 --repeat 3".
# make bench BENCH_ARGS="--mode backfill" measures instead the backfill of a
# new column under the load: one UPDATE, a naive batched loop with a sleep,
# and tailor backfill (pt-osc plays no part in it).
BENCH_ARGS ?=
bench: server
	@if ! command -v pt-online-schema-change >/dev/null 2>&1; then \
		echo "pt-online-schema-change not found; installing percona-toolkit"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		( $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y percona-toolkit ) \
			|| echo "percona-toolkit could not be installed; the benchmark runs without pt-online-schema-change"; \
	fi
	$(GO) run ./cmd/tailor-bench $(BENCH_ARGS)

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w .
