# rolecall: `make run` builds and starts it, `make test` runs every test.
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
GO       ?= go
BIN      := bin/rolecall
FUZZTIME ?= 10s
PREFIX   ?= $(HOME)/.local
# cgo only where the tray needs it (macOS): a static binary maps no libc,
# which is 1.9 MB less idle memory on Linux.
CGO      ?= $(if $(filter darwin,$(shell $(GO) env GOOS)),1,0)

.PHONY: build run install check test test-windows fuzz lint bench dist clean

build:
	CGO_ENABLED=$(CGO) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

run: build
	./$(BIN)

# Into ~/.local: the binary, the menu entry (its Exec the full path) and the icon.
install: build
	PREFIX=$(PREFIX) build/linux/install.sh $(BIN) build/linux/rolecall.desktop assets/rolecall.png

# Fast: vet and the unit tests, without processes or a desktop session.
check:
	$(GO) vet ./...
	$(GO) test -short -timeout 60s ./...

# Everything. The JavaScript SDK client test and the role picker's browser
# test need their npm packages; without npm the tests say so and skip. A
# hang fails in minutes.
test: testdata/js/node_modules/.installed tray/picker/testdata/node_modules/.installed
	$(GO) test -race -timeout 720s ./...

# Every package's tests as Windows binaries under wine 10, then the Windows
# end-to-end test (root, debootstrap; the trixie chroot is cached in .cache).
test-windows:
	./build/wine-test.sh

testdata/js/node_modules/.installed: testdata/js/package.json testdata/js/package-lock.json
	@if command -v npm >/dev/null; then \
		cd testdata/js && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: the JavaScript SDK test will be skipped"; fi

tray/picker/testdata/node_modules/.installed: tray/picker/testdata/package.json tray/picker/testdata/package-lock.json
	@if command -v npm >/dev/null; then \
		cd tray/picker/testdata && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: the role picker's browser test will be skipped"; fi

fuzz:
	$(GO) test ./settings -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./server -run '^$$' -fuzz FuzzHandler -fuzztime $(FUZZTIME)

lint:
	$(GO) mod tidy -diff
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin CGO_ENABLED=0 $(GO) vet ./creds ./server/... ./keyring ./settings ./private ./sso ./tray ./assets
	$(GO) tool staticcheck ./...

# Go benchmarks (the credential path, the peer check with 0 and 10,000
# other sockets, audit attribution of curl clients, the AWS config with 500,
# 5,000 and 20,000 profiles, discovery), then the side-by-side table of the
# real `rolecall serve` (two sessions, five slots, audit log on) and a bare
# net/http handler under wrk (apt-get install wrk dbus gnome-keyring), and
# beside them the servers named in ROLECALL_BENCH_PEERS (see README).
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./creds ./server ./grants
	$(GO) test -run '^$$' -bench Config -benchmem ./sso
	$(GO) test -run '^$$' -bench Discovery -benchtime 3x ./sso
	$(GO) test -run '^$$' -bench Switch -benchtime 20x ./tray
	$(GO) test -run '^$$' -bench TrayDailyDriver -benchtime 20x .
	$(GO) build -o bin/loadtest ./internal/loadtest
	$(GO) build -o bin/loadtest-bare ./internal/loadtest/bare
	./bin/loadtest -bin $(BIN) -bare bin/loadtest-bare

# Archives for linux/amd64, linux/arm64, windows/amd64 and SHA256SUMS in dist/.
dist:
	VERSION=$(VERSION) ./build/dist.sh

clean:
	rm -rf bin dist testdata/js/node_modules .cache/wine-run
