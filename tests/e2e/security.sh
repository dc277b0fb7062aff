#!/usr/bin/env bash
# Authentication, TLS and connection limits with real clients (psql, psycopg when installed):
# SCRAM-SHA-256 and cleartext passwords checked against verifiers, sslmode=verify-full against a
# certificate made here, a refused wrong password (28P01), the connection limit (53300), the idle
# session timeout (57P05), and the refusal to trust a non-loopback address.
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v psql >/dev/null 2>&1 || { echo "security test: needs psql (tests/e2e/psql_smoke.sh installs it)"; exit 1; }
if ! command -v openssl >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq openssl >/dev/null) || { echo "security test: cannot install openssl" >&2; exit 1; }
fi
source tests/e2e/lib.sh
server=$(server_binary)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
failures=0
check() { # name, command...
  local name=$1; shift
  if "$@" >"$work/out" 2>&1; then echo "pass  $name"; else echo "FAIL  $name"; sed 's/^/      /' "$work/out"; failures=$((failures + 1)); fi
}

# A CA and a server certificate for 127.0.0.1 / localhost.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=eddy-test-ca" \
  -keyout "$work/ca.key" -out "$work/ca.crt" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$work/server.key" -out "$work/server.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$work/san.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
  -extfile "$work/san.ext" -out "$work/server.crt" >/dev/null 2>&1

verifier=$(printf 's3cret\n' | "$server" --hash-password)
start() { # log name, extra flags...: starts a server, sets $port
  local log="$work/$1.log"; shift
  "$server" --pg-listen 127.0.0.1:0 --log warn "$@" >"$log" 2>&1 &
  pids+=($!)
  port=$(wait_for_port "$log")
}

cat >"$work/eddy.toml" <<TOML
auth = "scram-sha-256"
tls_cert = "$work/server.crt"
tls_key = "$work/server.key"
max_connections = 3
[users]
alice = "$verifier"
TOML
start scram --config "$work/eddy.toml" --http-listen 127.0.0.1:0
scram_port=$port
http_port=$(sed -n 's/^ *HTTP: *[0-9.]*:\([0-9]*\).*/\1/p' "$work/scram.log" | head -1)
conn="host=localhost port=$scram_port user=alice dbname=eddy"

check "scram-sha-256 over TLS (sslmode=verify-full)" bash -c \
  "PGPASSWORD=s3cret psql -X -At '$conn sslmode=verify-full sslrootcert=$work/ca.crt' -c 'SELECT current_user' | grep -qx alice"
check "TLS is on for that session" bash -c \
  "PGPASSWORD=s3cret psql -X -At '$conn sslmode=require' -c 'SHOW ssl' >/dev/null 2>&1 || PGPASSWORD=s3cret psql -X '$conn sslmode=require' -c '\\conninfo' | grep -q 'SSL connection'"
check "a wrong password is refused (28P01)" bash -c \
  "! PGPASSWORD=wrong psql -X -At '$conn sslmode=require' -c 'SELECT 1' 2>'$work/err' && grep -q 'password authentication failed\\|28P01' '$work/err'"
check "an unknown user is refused" bash -c \
  "! PGPASSWORD=s3cret psql -X -At 'host=127.0.0.1 port=$scram_port user=mallory dbname=eddy sslmode=require' -c 'SELECT 1' 2>/dev/null"
check "without TLS the password still works (sslmode=disable)" bash -c \
  "PGPASSWORD=s3cret psql -X -At '$conn sslmode=disable' -c 'SELECT 41 + 1' | grep -qx 42"
# HTTP asks for the same users (Basic); the health check is open to probes.
check "HTTP metrics need a user's password" bash -c \
  "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$http_port/metrics)\" = 401 ] &&
   [ \"\$(curl -s -o /dev/null -w '%{http_code}' -u alice:wrong http://127.0.0.1:$http_port/metrics)\" = 401 ] &&
   curl -sf -u alice:s3cret http://127.0.0.1:$http_port/metrics | grep -q '^eddy_sessions ' &&
   curl -sf http://127.0.0.1:$http_port/healthcheck | grep -q isHealthy"
if [ -n "${VENV:-}" ] && [ -x "$VENV/bin/python" ]; then
  check "psycopg 3 with scram-sha-256 and verify-full" "$VENV/bin/python" -c "
import psycopg
with psycopg.connect('$conn password=s3cret sslmode=verify-full sslrootcert=$work/ca.crt') as c:
    assert c.execute('SELECT %s::int + 1', (41,)).fetchone()[0] == 42
    assert c.info.pgconn.ssl_in_use
"
fi

# The connection limit: three sessions held open (psql waiting on its input), each one connected
# (it has answered a query) before the next starts; then a fourth client is refused.
holders=()
for i in 1 2 3; do
  ( (echo 'SELECT 41 + 1;'; sleep 30) | PGPASSWORD=s3cret psql -X -At "$conn sslmode=disable" >"$work/holder$i" 2>&1) &
  holders+=($!)
  for _ in $(seq 1 200); do grep -qx 42 "$work/holder$i" 2>/dev/null && break; sleep 0.05; done
done
n=""
for _ in $(seq 1 100); do
  n=$(PGPASSWORD=s3cret psql -X -At "$conn sslmode=disable" -c 'SELECT 1' 2>&1 || true)
  grep -q 'too many clients' <<<"$n" && break
  sleep 0.1
done
printf "%s\n" "$n" >"$work/limit.out"
check "over max_connections a client gets 53300" bash -c "cat $work/limit.out; grep -q \"sorry, too many clients already\" $work/limit.out"
for h in "${holders[@]}"; do pkill -P "$h" 2>/dev/null || true; kill "$h" 2>/dev/null || true; done

# Sockets that never send a startup packet hold no slot: a real client still gets in.
check "silent sockets take no connection slot" python3 -c "
import socket, subprocess, os
silent = [socket.create_connection(('127.0.0.1', $scram_port)) for _ in range(5)]
env = dict(os.environ, PGPASSWORD='s3cret')
r = subprocess.run(['psql', '-X', '-At', '$conn sslmode=disable', '-c', 'SELECT 1'], capture_output=True, text=True, env=env, timeout=30)
assert r.stdout.strip() == '1', r
"

# Idle sessions: closed after the timeout with 57P05.
start idle --idle-session-timeout 1s
if [ -n "${VENV:-}" ] && [ -x "$VENV/bin/python" ]; then
  check "an idle session is closed with 57P05" "$VENV/bin/python" -c "
import psycopg, select
c = psycopg.connect('host=127.0.0.1 port=$port user=idle dbname=eddy', autocommit=True)
c.execute('SELECT 1')
# Wait (at most 20 s) for the server to speak or close on its own, then the session is gone.
assert select.select([c.fileno()], [], [], 20)[0], 'still open after 20 s'
try:
    c.execute('SELECT 1')
    raise AssertionError('the idle session still answers')
except psycopg.OperationalError as e:
    assert 'idle' in str(e) or c.closed, e
"
fi

# Trust on a non-loopback address: refused at start.
check "trust on 0.0.0.0 refuses to start" bash -c \
  "! '$server' --pg-listen 0.0.0.0:0 --log warn >'$work/refused' 2>&1 && grep -q 'refusing to listen' '$work/refused'"
check "HTTP on 0.0.0.0 with trust refuses to start" bash -c \
  "! '$server' --pg-listen 127.0.0.1:0 --http-listen 0.0.0.0:0 --log warn >'$work/refused-http' 2>&1 && grep -q 'refusing to serve HTTP' '$work/refused-http'"
check "scram without users refuses to start" bash -c \
  "! '$server' --pg-listen 127.0.0.1:0 --auth scram-sha-256 >'$work/nousers' 2>&1 && grep -q 'needs users' '$work/nousers'"

if [ "$failures" -gt 0 ]; then echo "security test: $failures failed"; exit 1; fi
echo "security test: all passed"
