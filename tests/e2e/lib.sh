# Shared by the end-to-end scripts (source it from the repository root).

# The server binary: $EDDY_SERVER_BIN when set (CI builds the workspace once), else a debug build.
server_binary() {
  if [ -n "${EDDY_SERVER_BIN:-}" ]; then
    echo "$EDDY_SERVER_BIN"
    return
  fi
  cargo build -q --bin eddy-server
  echo "${CARGO_TARGET_DIR:-target}/debug/eddy-server"
}

# wait_for_port LOG: prints the Postgres port of the server logging to LOG once it is listening;
# fails (printing the log) if it does not start within 20 seconds.
wait_for_port() {
  local log=$1 port=""
  for _ in $(seq 1 400); do
    port=$(sed -n 's/.*Postgres wire: [0-9.]*:\([0-9]*\).*/\1/p' "$log" | head -n1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.05
  done
  echo "server did not start:" >&2
  cat "$log" >&2
  return 1
}
