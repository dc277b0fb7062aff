#!/usr/bin/env bash
# Apache Superset over Eddy, end to end: start Eddy on its embedded broker, feed a stream, aggregate
# it into a table with a persistent query, point Superset at Eddy as an ordinary PostgreSQL database,
# build a dataset, a bar chart and a dashboard through Superset's REST API, check the chart's rows,
# and screenshot the chart with headless Chromium into examples/superset/superset-chart.png.
#
# Usage: bash examples/superset/run.sh
#   EDDY_SERVER_BIN=path/to/eddy-server   use this server binary (default: cargo build --bin eddy-server)
#   EDDY_LOG=info                         server log level (default warn); on a failure the script
#                                         prints the errors Eddy returned, and Superset's log has their SQL
#   KEEP_RUNNING=1                        leave Eddy and Superset up at the end (Ctrl-C stops them)
#   KEEP_LOGS=1                           keep the logs (and Superset's metadata) even when all passes
# Installs what it needs, cached: a venv with apache-superset under
# ${XDG_CACHE_HOME:-$HOME/.cache}/eddy-superset, and Debian's chromium and chromium-driver (apt-get,
# as root or through sudo). psql too, if it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
example_dir=examples/superset
start_time=$SECONDS
step() { echo "== [$((SECONDS - start_time))s] $*"; }
die() { echo "FAILED: $*" >&2; exit 1; }

SUPERSET_VERSION=4.1.4
cache="${XDG_CACHE_HOME:-$HOME/.cache}/eddy-superset"
venv="$cache/venv"

# --- install (once) -------------------------------------------------------------------------------
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need $* from apt-get: run as root or install it"
    sudo=sudo
  fi
  $sudo apt-get install -y -q "$@" >/dev/null 2>&1 ||
    { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "$@" >/dev/null; }
}

if ! command -v psql >/dev/null 2>&1; then
  step "installing psql (Debian postgresql-client)"
  apt_install postgresql-client
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  step "installing chromium and chromium-driver (Debian)"
  apt_install chromium chromium-driver
fi
if [ ! -f "$venv/.installed-$SUPERSET_VERSION" ]; then
  step "installing apache-superset $SUPERSET_VERSION into $venv (a few minutes, once)"
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  # apache-superset pins its own dependencies (SQLAlchemy 1.4, marshmallow 3, selenium, ...);
  # psycopg2 is the driver behind postgresql+psycopg2://.
  "$venv/bin/pip" install -q "apache-superset==$SUPERSET_VERSION" psycopg2-binary
  touch "$venv/.installed-$SUPERSET_VERSION"
fi

# --- processes and cleanup ------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/eddy-superset.XXXXXX")
eddy_pid=""
superset_pid=""
cleanup() {
  local rc=$?
  local pid
  for pid in $superset_pid $eddy_pid; do
    { kill "$pid" && wait "$pid"; } 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ] || [ -n "${KEEP_LOGS:-}" ]; then
    echo "--- last lines of the Eddy log ($work/eddy.log)"; tail -n 30 "$work/eddy.log" 2>/dev/null || true
    echo "--- last lines of the Superset log ($work/superset.log)"; tail -n 30 "$work/superset.log" 2>/dev/null || true
    if grep -q "psycopg2.errors" "$work/superset.log" 2>/dev/null; then
      echo "--- errors Eddy returned to Superset (the full SQL of each is in the Superset log)"
      grep -o "psycopg2.errors.*" "$work/superset.log" | sort | uniq -c
    fi
    echo "(logs kept in $work)"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Eddy -----------------------------------------------------------------------------------------
server="${EDDY_SERVER_BIN:-}"
if [ -z "$server" ]; then
  step "building eddy-server"
  cargo build -q --bin eddy-server
  server="${CARGO_TARGET_DIR:-target}/debug/eddy-server"
fi
step "starting Eddy ($server)"
"$server" --pg-listen 127.0.0.1:0 --log "${EDDY_LOG:-warn}" >"$work/eddy.log" 2>&1 &
eddy_pid=$!
eddy_port=""
for _ in $(seq 1 600); do # up to 30 s
  eddy_port=$(sed -n 's/^ *Postgres wire: [0-9.]*:\([0-9]*\).*/\1/p' "$work/eddy.log" | head -n1)
  [ -n "$eddy_port" ] && break
  kill -0 "$eddy_pid" 2>/dev/null || die "eddy-server exited"
  sleep 0.05
done
[ -n "$eddy_port" ] || die "eddy-server printed no Postgres port within 30 s"
echo "   Eddy: postgresql://eddy@127.0.0.1:$eddy_port/eddy"
eddy_psql() { psql -X -q -A -t -h 127.0.0.1 -p "$eddy_port" -U eddy -d eddy -v ON_ERROR_STOP=1 "$@"; }

# --- demo data ------------------------------------------------------------------------------------
# 30 page views over 6 pages, with a different count per page, interleaved deterministically.
counts=(/home:9 /docs:7 /pricing:6 /blog:4 /signup:3 /about:1)
pages=()
for spec in "${counts[@]}"; do
  for ((k = 0; k < ${spec#*:}; k++)); do pages+=("${spec%:*}"); done
done
[ "${#pages[@]}" -eq 30 ] || die "the demo data should have 30 rows"
expected=$(printf '%s\n' "${counts[@]}" | sort | tr ':' '|') # PAGE|VIEWS, ordered by page

step "creating the stream PAGEVIEWS (30 rows) and the table VIEWS_PER_PAGE"
{
  echo "CREATE STREAM pageviews (user_id INT KEY, page STRING, ms BIGINT)"
  echo "  WITH (KAFKA_TOPIC='pageviews', VALUE_FORMAT='JSON', PARTITIONS=1);"
  for ((i = 0; i < 30; i++)); do
    echo "INSERT INTO pageviews (user_id, page, ms) VALUES ($((i % 7 + 1)), '${pages[$((i * 7 % 30))]}', $((100 + i * 37 % 400)));"
  done
  # A persistent query starts reading where the session's auto.offset.reset says (ksqlDB's default is
  # latest): set earliest in the same session so the table counts the rows inserted above.
  echo "SET 'auto.offset.reset'='earliest';"
  echo "CREATE TABLE views_per_page AS"
  echo "  SELECT page, COUNT(*) AS views, SUM(ms) AS total_ms FROM pageviews GROUP BY page EMIT CHANGES;"
} >"$work/demo.sql"
eddy_psql -f "$work/demo.sql" >/dev/null 2>"$work/psql.err" || { cat "$work/psql.err"; die "demo SQL failed"; }

got=""
for _ in $(seq 1 300); do # up to 30 s for the persistent query to catch up
  got=$(eddy_psql -c "SELECT page, views FROM views_per_page ORDER BY page" 2>/dev/null || true)
  [ "$got" = "$expected" ] && break
  sleep 0.1
done
[ "$got" = "$expected" ] || die "VIEWS_PER_PAGE did not reach the expected counts; got:
$got
expected:
$expected"
echo "   VIEWS_PER_PAGE: $(tr '\n' ' ' <<<"$got")"

# --- Superset -------------------------------------------------------------------------------------
superset_port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/superset_config.py" <<EOF
SECRET_KEY = "eddy-superset-demo-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
SQLALCHEMY_DATABASE_URI = "sqlite:///$work/superset.db"
WTF_CSRF_ENABLED = False
TALISMAN_ENABLED = False
RATELIMIT_ENABLED = False
EOF
export SUPERSET_CONFIG_PATH="$work/superset_config.py" SUPERSET_HOME="$work/home" FLASK_APP=superset
superset() { "$venv/bin/superset" "$@" >>"$work/superset-setup.log" 2>&1 || { tail -n 40 "$work/superset-setup.log"; die "superset $1 failed"; }; }

step "initialising Superset $SUPERSET_VERSION (metadata in $work/superset.db)"
superset db upgrade
superset fab create-admin --username admin --password admin --firstname Admin --lastname User --email admin@example.com
superset init

step "starting Superset on http://127.0.0.1:$superset_port"
"$venv/bin/superset" run -h 127.0.0.1 -p "$superset_port" --with-threads >"$work/superset.log" 2>&1 &
superset_pid=$!
for _ in $(seq 1 600); do # up to 60 s
  curl -fsS "http://127.0.0.1:$superset_port/health" >/dev/null 2>&1 && break
  kill -0 "$superset_pid" 2>/dev/null || die "Superset exited"
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$superset_port/health" >/dev/null || die "Superset did not answer /health within 60 s"

step "driving Superset's REST API: database, tables, dataset, chart, chart data, dashboard"
"$venv/bin/python" "$example_dir/superset_api.py" \
  --superset "http://127.0.0.1:$superset_port" \
  --uri "postgresql+psycopg2://eddy@127.0.0.1:$eddy_port/eddy" \
  --expected "$(tr '\n' ',' <<<"$expected")" \
  --out "$work/ids.env"
# shellcheck disable=SC1091
source "$work/ids.env" # CHART_ID, DASHBOARD_ID

step "screenshot of the chart with headless Chromium"
png="$example_dir/superset-chart.png"
rm -f "$png"
"$venv/bin/python" "$example_dir/screenshot.py" --superset "http://127.0.0.1:$superset_port" \
  --path "/explore/?slice_id=$CHART_ID" --out "$png"
size=$(stat -c %s "$png" 2>/dev/null || echo 0)
[ "$size" -gt 20000 ] || die "the screenshot $png is only $size bytes: the chart did not render"
echo "   $png: $size bytes"

echo
echo "Superset over Eddy: all checks passed in $((SECONDS - start_time)) s"
echo "   chart:     http://127.0.0.1:$superset_port/explore/?slice_id=$CHART_ID"
echo "   dashboard: http://127.0.0.1:$superset_port/superset/dashboard/$DASHBOARD_ID/"
if [ -n "${KEEP_RUNNING:-}" ]; then
  echo "   KEEP_RUNNING is set: Superset (admin/admin) and Eddy stay up until Ctrl-C"
  wait "$superset_pid"
fi
