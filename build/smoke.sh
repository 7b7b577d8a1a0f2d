#!/usr/bin/env bash
# Smoke test of the linux/amd64 archive from `make dist`: version, doctor
# --json, and `serve` answering /healthz, in a throw-away home.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
tar -C "$tmp" -xzf dist/rolecall-*-linux-amd64.tar.gz
bin=$(echo "$tmp"/rolecall-*-linux-amd64/rolecall)
export HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_STATE_HOME=$tmp/state XDG_RUNTIME_DIR=$tmp/run ROLECALL_SOCKET=
mkdir -m 700 "$XDG_RUNTIME_DIR"
"$bin" version
rc=0; "$bin" doctor --json > "$tmp/doctor.json" || rc=$?
[ "$rc" = 1 ] || { echo "doctor exited $rc, want 1 (rolecall is not running)"; exit 1; }
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] is False and any(f["check"]=="rolecall running" and not f["ok"] for f in d["findings"])' "$tmp/doctor.json"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DBUS_SESSION_BUS_ADDRESS= "$bin" serve --port "$port" 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 100); do
	if python3 -c 'import sys,urllib.request; sys.exit(0 if urllib.request.urlopen(sys.argv[1]).read()==b"{\"status\":\"ok\"}" else 1)' "http://127.0.0.1:$port/healthz" 2>/dev/null; then
		echo "smoke: serve answered /healthz"; exit 0
	fi
	sleep 0.1
done
cat "$tmp/serve.log"; echo "smoke: no /healthz answer"; exit 1
