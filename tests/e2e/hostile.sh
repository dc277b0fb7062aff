#!/usr/bin/env bash
# Hostile and careless input (issue 14): starts the real server and runs tests/e2e/hostile.py
# against it (malformed and oversized protocol messages, NULs, deep and long expressions, deep
# types, resource bombs, parameter numbers, many statements) while a watcher runs SELECT 1 and a
# push query stays open. Fails on any crash, stall, wrong answer or RSS over the bound.
#
# The bounds are for the debug build CI runs: SELECT 1 answered within 250 ms (a case whose SELECT 1
# was slower is run again, and a stall counts when it repeats: noise does not), RSS under 6 GiB (a
# statement at the operator limit walks its syntax tree recursively, with unoptimized frames).
set -euo pipefail
cd "$(dirname "$0")/../.."

source tests/e2e/lib.sh
server=$(server_binary)
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$server" --pg-listen 127.0.0.1:0 --log warn >"$work/server.log" 2>&1 &
pid=$!
port=$(wait_for_port "$work/server.log")

status=0
python3 tests/e2e/hostile.py "$port" "$pid" --stall-ms "${HOSTILE_STALL_MS:-250}" --rss-mib "${HOSTILE_RSS_MIB:-6144}" || status=$?
if ! kill -0 "$pid" 2>/dev/null; then
  echo "the server is gone; its log:"
  tail -n 20 "$work/server.log"
  status=1
fi
exit "$status"
