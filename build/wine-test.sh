#!/usr/bin/env bash
# Runs every package's tests as windows/amd64 binaries under wine 10, then the
# Windows end-to-end test. Debian 12's wine 8 cannot start Go 1.24+ programs
# and trixie's wine cannot be installed beside bookworm's libc, so wine lives
# in a Debian trixie chroot cached under .cache/wine-trixie (built once with
# debootstrap from the host's own Debian mirror; the host's apt sources are
# never touched). Needs root and debootstrap (apt-get install debootstrap).
#
#   build/wine-test.sh            all packages, then the end-to-end test
#   build/wine-test.sh ./sso      only these packages (no end-to-end test)
#   WINE_E2E_ONLY=1 build/wine-test.sh   only the end-to-end test
#
# Last line: "wine: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache=${WINE_CACHE:-$repo/.cache}
root=$cache/wine-trixie
out=$cache/wine-run
pkg_timeout=${WINE_PKG_TIMEOUT:-300}
# The wine prefix made once at setup, copied afresh to the tmpfs /tmp for
# every run so no run sees the state of the one before.
prefix_tmpl=/root/wineprefix
prefix=/tmp/wineprefix

# mirror prints the URI of the host's Debian archive (not the security one).
mirror() {
	local f=/etc/apt/sources.list.d/debian.sources
	if [ -r "$f" ]; then
		awk '$1 == "URIs:" { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
	elif [ -r /etc/apt/sources.list ]; then
		awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' /etc/apt/sources.list
	fi
}

# mounts gives the chroot /proc, /dev, a tmpfs /tmp and the repository at its
# own path (so test binaries run in their package's directory). Only ever
# called inside `unshare -m`: nothing is left mounted on the host.
mounts() {
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs tmpfs "$root/tmp"
	if [ "${1:-}" = repo ]; then
		mkdir -p "$root$repo"
		mount --bind "$repo" "$root$repo"
	fi
}

# inner_setup installs wine into the fresh chroot and makes the prefix.
inner_setup() {
	root=$1
	mounts
	chroot "$root" apt-get update -qq
	chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		wine wine64 libwine >/dev/null
	chroot "$root" apt-get clean
	# mscoree/mshtml off: no Mono or Gecko installer dialog.
	chroot "$root" env WINEPREFIX=$prefix_tmpl WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml=' \
		XDG_RUNTIME_DIR=/tmp sh -c 'wineboot --init && wineserver -w' >"$root/.wineboot.log" 2>&1
	chroot "$root" wine --version >"$root/.wine-version"
}

setup() {
	if [ -f "$root/.wine-version" ]; then
		echo "wine: cached chroot $root ($(cat "$root/.wine-version"))"
		return
	fi
	command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap"; exit 1; }
	local m new=$root.new
	m=$(mirror)
	[ -n "$m" ] || { echo "no Debian mirror found in the host's apt sources"; exit 1; }
	echo "wine: building a trixie chroot in $root from $m (once)"
	rm -rf "$new"
	mkdir -p "$cache"
	debootstrap --variant=minbase --include=ca-certificates trixie "$new" "$m" >"$cache/debootstrap.log" 2>&1 ||
		{ tail -20 "$cache/debootstrap.log"; exit 1; }
	# Snapshot mirrors serve Release files past their Valid-Until date.
	echo 'Acquire::Check-Valid-Until "false";' >"$new/etc/apt/apt.conf.d/99rolecall"
	unshare -m -- "$0" --inner-setup "$new"
	mv "$new" "$root"
	echo "wine: $(cat "$root/.wine-version") ready"
}

# wine_env is the environment of every Windows program: nothing of the
# host's. ROLECALL_REQUIRE_ALL is not passed: the Windows side has no moto,
# AWS CLI, bash or Go toolchain, so the tests that need them skip there (the
# Linux run has them; TestWindowsEndToEnd covers moto and the Go SDK from
# the Windows side).
wine_env() {
	echo env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 XDG_RUNTIME_DIR=/tmp/xdg \
		WINEPREFIX=$prefix WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml='
}

# report prints why each top-level test skipped, and the output of each
# failed one (or the tail of a crash).
report() {
	awk '
		/^=== RUN/ { if ($3 !~ /\//) buf = ""; }
		{ buf = buf $0 "\n" }
		/^    [^ ]*_test\.go:[0-9]+: / { why = $0; sub(/^ +/, "", why) }
		/^--- SKIP/ { printf "wine:     skip %s %s\n", $3, why }
		/^--- FAIL/ { printf "%s", buf }
		/^panic:|^fatal error:/ { crash = 1 }
		crash { print }
	' "$1" | head -100
}

# inner_run runs inside `unshare -m`: mounts, a fresh prefix, one persistent
# wineserver, then each test binary in its package's directory.
inner_run() {
	mounts repo
	trap 'chroot "$root" env WINEPREFIX=$prefix wineserver -k 2>/dev/null || true' EXIT
	cp -a "$root$prefix_tmpl" "$root$prefix"
	install -d -m 700 "$root/tmp/xdg"
	chroot "$root" $(wine_env) wineserver -p
	local pkg dir exe log rc t0
	while read -r pkg dir exe; do
		log=$out/log/$(basename "$exe" .test.exe).log
		t0=${EPOCHREALTIME/./}
		rc=0
		timeout -k 10 "$pkg_timeout" chroot "$root" $(wine_env) sh -c 'cd "$1" && shift && exec wine "$@"' _ \
			"$dir" "$exe" -test.v -test.timeout=$((pkg_timeout - 30))s >"$log" 2>&1 || rc=$?
		count "$pkg" "$log" "$rc" "$t0"
	done <"$out/tests"
	if [ "$e2e" = 1 ]; then
		# The end-to-end test runs on this side (fake Identity Center, moto)
		# and starts the Windows programs through $out/wine.
		cat >"$out/wine" <<-EOF
			#!/bin/sh
			export PATH=/usr/bin:/bin HOME=/root XDG_RUNTIME_DIR=/tmp/xdg WINEPREFIX=$prefix WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml='
			exec /usr/sbin/chroot "$root" sh -c 'cd "\$0" 2>/dev/null; exec wine "\$@"' "\$PWD" "\$@"
		EOF
		chmod +x "$out/wine"
		log=$out/log/e2e.log t0=${EPOCHREALTIME/./} rc=0
		TMPDIR=$out/tmp ROLECALL_WINE=$out/wine timeout -k 10 "$pkg_timeout" \
			go test -count=1 -v -run '^TestWindowsEndToEnd$' -timeout $((pkg_timeout - 30))s . >"$log" 2>&1 || rc=$?
		count "end-to-end (TestWindowsEndToEnd)" "$log" "$rc" "$t0"
	fi
	echo "$pass $fail $skip" >"$out/counts"
}

# count adds up one test binary's results and prints them.
pass=0 fail=0 skip=0
count() {
	local p f s ms=$(((${EPOCHREALTIME/./} - $4) / 1000))
	p=$(grep -c '^--- PASS' "$2" || true)
	f=$(grep -c '^--- FAIL' "$2" || true)
	s=$(grep -c '^--- SKIP' "$2" || true)
	if [ "$3" != 0 ] && [ "$f" = 0 ]; then f=1; fi # a panic, a timeout, a crash
	printf 'wine: %-40s %3d passed, %d failed, %d skipped (%d.%d s)\n' "$1" "$p" "$f" "$s" $((ms / 1000)) $((ms % 1000 / 100))
	report "$2"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

# build_tests cross-compiles each package's tests on the host and lists
# "import-path dir exe" in $out/tests.
build_tests() {
	rm -rf "$out"
	mkdir -p "$out/bin" "$out/log" "$out/tmp"
	local pkg dir name
	GOOS=windows GOARCH=amd64 go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' "$@" |
		while read -r pkg dir; do
			[ -n "$pkg" ] || continue
			name=${pkg//\//_}
			GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go test -c -o "$out/bin/$name.test.exe" "$pkg"
			echo "$pkg $dir $out/bin/$name.test.exe"
		done >"$out/tests"
}

case "${1:-}" in
--inner-setup) inner_setup "$2"; exit ;;
--inner-run) inner_run; exit ;;
esac

t0=$(date +%s)
setup
echo "wine: chroot ready ($(($(date +%s) - t0)) s)"
export e2e=0
if [ $# = 0 ]; then set -- ./...; e2e=1; fi
if [ "${WINE_E2E_ONLY:-}" = 1 ]; then
	rm -rf "$out" && mkdir -p "$out/log" "$out/tmp" && : >"$out/tests"
else
	build_tests "$@"
fi
echo "wine: tests built ($(($(date +%s) - t0)) s so far)"
unshare -m -- "$0" --inner-run
read -r pass fail skip <"$out/counts"
echo "wine: took $(($(date +%s) - t0)) s"
echo "wine: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
