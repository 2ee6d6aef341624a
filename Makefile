# tailor: online schema changes for MySQL and MariaDB.
GO ?= go

.PHONY: build test demo server vet fmt

build:
	$(GO) build -o bin/tailor ./cmd/tailor

# server installs MariaDB when no mariadbd is on the machine (Debian/Ubuntu).
server:
	@if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then \
		echo "mariadbd not found; installing mariadb-server"; \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y mariadb-server; \
	fi

# test runs the whole suite against throwaway mariadbd sandboxes the tests start themselves.
test: server
	$(GO) test -race -count=1 -timeout 15m ./...

demo: server build
	./bin/tailor demo

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w .
