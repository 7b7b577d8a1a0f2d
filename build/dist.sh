#!/usr/bin/env bash
# make dist: versioned archives for linux/amd64, linux/arm64 and
# windows/amd64, and SHA256SUMS. The macOS build needs cgo and a Mac:
#   CGO_ENABLED=1 go build -ldflags "-X main.version=$VERSION" -o rolecall.app/Contents/MacOS/rolecall .
#   cp build/darwin/Info.plist rolecall.app/Contents/ (replace VERSION), icon in Contents/Resources.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
LDFLAGS="-s -w -X main.version=$VERSION"
rm -rf dist && mkdir -p dist

for arch in amd64 arm64; do
	d=dist/rolecall-$VERSION-linux-$arch
	mkdir -p "$d"
	GOOS=linux GOARCH=$arch CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o "$d/rolecall" .
	cp build/linux/rolecall.desktop build/linux/rolecall.service build/linux/install.sh README.md "$d/"
	cp assets/rolecall.png "$d/rolecall.png"
	tar -C dist -czf "$d.tar.gz" "$(basename "$d")"
	rm -rf "$d"
done

# Windows: rolecall.exe is the tray (no console window); rolecall-cli.exe
# is the same program with a console, for `serve` and the CLI verbs.
d=dist/rolecall-$VERSION-windows-amd64
mkdir -p "$d"
trap 'rm -f rsrc_windows_amd64.syso' EXIT
go tool go-winres make --in build/windows/winres.json --arch amd64 --out rsrc
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS -H windowsgui" -o "$d/rolecall.exe" .
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o "$d/rolecall-cli.exe" .
rm -f rsrc_windows_amd64.syso
cp README.md "$d/"
(cd dist && python3 -m zipfile -c "$(basename "$d").zip" "$(basename "$d")")
rm -rf "$d"

(cd dist && sha256sum -- *.tar.gz *.zip > SHA256SUMS)
ls -l dist
