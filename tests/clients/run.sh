#!/usr/bin/env bash
# The client matrix: the same client checks (psql, psycopg 3, asyncpg, SQLAlchemy, pandas, pgcli,
# pgjdbc, node-postgres, BI tools' queries) against PostgreSQL (the control) and against Eddy.
# Prints both columns; fails when a check fails on PostgreSQL (a broken check) or passes there and
# fails on Eddy (unless differences.txt lists it with its reason).
#   EDDY_SERVER_BIN  a built eddy-server (else: cargo build)
#   extra arguments  go to checks.py (e.g. --only psql)
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/clients/install.sh

source tests/e2e/lib.sh
server=$(server_binary)

work=$(mktemp -d)
pg_pid=""
eddy_pid=""
cleanup() {
  [ -n "$eddy_pid" ] && kill "$eddy_pid" 2>/dev/null || true
  [ -n "$pg_pid" ] && run_as_pg "$PG_BIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# PostgreSQL refuses to run as root: then it runs as the postgres user.
run_as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# The control.
pg_port=$(free_port)
mkdir -p "$work/pg" "$work/sock"
[ "$(id -u)" -eq 0 ] && chown postgres "$work" "$work/pg" "$work/sock"
run_as_pg "$PG_BIN/initdb" -D "$work/pg" -A trust -U clients >/dev/null
run_as_pg "$PG_BIN/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-p $pg_port -k $work/sock -c listen_addresses=127.0.0.1" start >/dev/null
pg_pid=started
psql -X -q -h 127.0.0.1 -p "$pg_port" -U clients -d postgres -c "CREATE DATABASE shop" >/dev/null
psql -X -q -h 127.0.0.1 -p "$pg_port" -U clients -d shop -v ON_ERROR_STOP=1 -f tests/clients/fixture_postgres.sql >/dev/null

# Eddy, on its embedded broker; without its processing-log stream, which the control's database
# has no counterpart of (the checks compare the relations each client lists).
"$server" --pg-listen 127.0.0.1:0 --http-listen none --processing-log none --log warn >"$work/eddy.log" 2>&1 &
eddy_pid=$!
eddy_port=$(wait_for_port "$work/eddy.log")
psql -X -q -h 127.0.0.1 -p "$eddy_port" -U clients -d shop -v ON_ERROR_STOP=1 -f tests/clients/fixture_eddy.sql >/dev/null

"$VENV/bin/python" tests/clients/checks.py \
  --target "PostgreSQL=127.0.0.1:$pg_port:shop:clients:data.imports" \
  --target "Eddy=127.0.0.1:$eddy_port:shop:clients:imports" "$@"
