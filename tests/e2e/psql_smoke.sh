#!/usr/bin/env bash
# Smoke test with the real psql: start eddy-server on its embedded broker, run the README's tour, check the answers.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v psql >/dev/null 2>&1; then
  echo "installing postgresql-client for psql"
  (apt-get update -qq && apt-get install -y -qq postgresql-client >/dev/null) || { echo "cannot install psql" >&2; exit 1; }
fi

# EDDY_SERVER_BIN: a server binary already built (CI builds the workspace once); else build one.
source tests/e2e/lib.sh
server=$(server_binary)
log=$(mktemp)
"$server" --pg-listen 127.0.0.1:0 --log warn >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT

port=$(wait_for_port "$log")

run() { psql -X -q -A -t -h 127.0.0.1 -p "$port" -U smoke -d smoke -v ON_ERROR_STOP=1 "$@"; }

out=$(run -c "SELECT version()")
grep -q "Eddy" <<<"$out" || { echo "unexpected version(): $out"; exit 1; }

out=$(run <<'SQL'
CREATE STREAM pageviews (id INT KEY, url STRING, ms BIGINT) WITH (KAFKA_TOPIC='pageviews', VALUE_FORMAT='JSON', PARTITIONS=2);
SET 'auto.offset.reset'='earliest';
INSERT INTO pageviews (id, url, ms) VALUES (1, 'a.com', 10);
INSERT INTO pageviews (id, url, ms) VALUES (2, 'b.com', 250);
SELECT id, UCASE(url) AS url, ms FROM pageviews WHERE ms > 100 EMIT CHANGES LIMIT 1;
SELECT 'pull', url FROM pageviews WHERE id = 1;
CREATE STREAM slow WITH (KAFKA_TOPIC='slow_pages') AS SELECT id, url, ms FROM pageviews WHERE ms >= 100 PARTITION BY url;
PRINT 'slow_pages' FROM BEGINNING LIMIT 1;
SHOW STREAMS;
SQL
)
echo "$out"
grep -q '^2|B.COM|250$' <<<"$out" || { echo "push query row missing"; exit 1; }
grep -q '^pull|a.com$' <<<"$out" || { echo "pull query row missing"; exit 1; }
grep -q 'key: b.com, value: {"ID":2,"MS":250}' <<<"$out" || { echo "PRINT of the sink topic missing"; exit 1; }
grep -q '^SLOW|slow_pages|KAFKA|JSON|false$' <<<"$out" || { echo "SHOW STREAMS missing SLOW"; exit 1; }

if run -c "SELECT nope FROM pageviews EMIT CHANGES" 2>"$log.err"; then
  echo "expected an error"; exit 1
fi
grep -q "cannot be resolved" "$log.err" || { cat "$log.err"; exit 1; }
rm -f "$log.err"

# The embedded broker keeps 5 MiB of a partition: the INSERT that passes it is told, as a NOTICE.
big=$(head -c 700000 /dev/zero | tr '\0' x)
{
  echo "CREATE STREAM bulky (id INT KEY, v STRING) WITH (KAFKA_TOPIC='bulky', VALUE_FORMAT='JSON', PARTITIONS=1);"
  for i in 1 2 3 4 5 6 7 8 9; do echo "INSERT INTO bulky (id, v) VALUES ($i, '$big');"; done
} >"$log.sql"
psql -X -A -t -h 127.0.0.1 -p "$port" -U smoke -d smoke -v ON_ERROR_STOP=1 -f "$log.sql" >/dev/null 2>"$log.err"
notices=$(grep -c "keeps at most 5 MiB per partition" "$log.err" || true)
[ "$notices" = 1 ] || { echo "expected one NOTICE about the embedded broker's room, got $notices:"; cat "$log.err"; exit 1; }
rm -f "$log.err" "$log.sql"
echo "psql smoke test: 2 passed, 0 failed"
