# Sourced by run.sh: installs what the client checks need, once per machine (cached under
# $EDDY_CLIENT_CACHE, default ~/.cache/eddy-clients), and exports where it is.
#   PostgreSQL server and psql (Debian `postgresql`), pgjdbc (Debian `libpostgresql-jdbc-java`),
#   psycopg 3, asyncpg, SQLAlchemy, pandas and pgcli (PyPI, in a venv), node-postgres (npm).

EDDY_CLIENT_CACHE="${EDDY_CLIENT_CACHE:-$HOME/.cache/eddy-clients}"
export EDDY_CLIENT_CACHE
mkdir -p "$EDDY_CLIENT_CACHE"

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then echo "client checks: need $* (apt-get, as root)" >&2; return 1; fi
  (apt-get install -y -q "$@" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$@" >/dev/null; })
}

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$PG_BIN" ] || ! command -v psql >/dev/null 2>&1; then
  echo "client checks: installing PostgreSQL (the control) and psql"
  apt_install postgresql postgresql-client
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
fi
export PG_BIN

if ! command -v curl >/dev/null 2>&1; then
  echo "client checks: installing curl (the HTTP listener's checks)"
  apt_install curl
fi

EDDY_JDBC_JAR=/usr/share/java/postgresql.jar
if [ ! -f "$EDDY_JDBC_JAR" ]; then
  echo "client checks: installing pgjdbc"
  apt_install libpostgresql-jdbc-java
fi
export EDDY_JDBC_JAR

VENV="$EDDY_CLIENT_CACHE/venv"
if [ ! -f "$VENV/.installed" ]; then
  echo "client checks: installing psycopg, asyncpg, SQLAlchemy, pandas, pgcli"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "psycopg[binary]" asyncpg sqlalchemy pandas pgcli
  touch "$VENV/.installed"
fi
export VENV

EDDY_NODE_MODULES="$EDDY_CLIENT_CACHE/node/node_modules"
if [ ! -d "$EDDY_NODE_MODULES/pg" ]; then
  echo "client checks: installing node-postgres"
  mkdir -p "$EDDY_CLIENT_CACHE/node"
  (cd "$EDDY_CLIENT_CACHE/node" && npm init -y >/dev/null && npm install -q pg@8 >/dev/null)
fi
export EDDY_NODE_MODULES
