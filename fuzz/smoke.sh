#!/usr/bin/env bash
# CI's smoke run of every fuzz target (fuzz/README.md): a fixed number of libFuzzer executions each,
# starting from the committed corpus, on the repository's stable toolchain (coverage without a
# sanitizer, `-s none`; an unoptimized build compiles fastest and is fast enough here). Installs
# cargo-fuzz when it is not on PATH. A crash leaves its input in fuzz/artifacts/<target>/ and fails.
#
#   bash fuzz/smoke.sh [RUNS]        # RUNS executions per target (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-300}"
if ! command -v cargo-fuzz >/dev/null; then
  echo "installing cargo-fuzz (once per machine)"
  cargo install cargo-fuzz --locked --version 0.13.2
fi

# The instrumented build (all of DataFusion and librdkafka once more) is kept outside the clone, so
# that a later run on the same machine rebuilds only what changed.
target_dir="${EDDY_FUZZ_TARGET_DIR:-$HOME/.cache/eddy-fuzz/target}"
mkdir -p "$target_dir"
cargo fuzz build -s none --dev --target-dir "$target_dir"

for target in sql_statements record_decoders pg_messages; do
  # New inputs go to a scratch copy: the committed corpus changes only by hand (fuzz/README.md).
  scratch="$(mktemp -d)"
  log="$scratch.log"
  echo "== $target: $runs runs"
  status=0
  cargo fuzz run -s none --dev --target-dir "$target_dir" "$target" "$scratch" "fuzz/corpus/$target" -- \
    -runs="$runs" -max_len=4096 -timeout=30 -rss_limit_mb=6144 -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E "INITED|DONE|^Done|executed_units|peak_rss_mb|SUMMARY|panicked|Test unit written|deadly signal" "$log" || true
  rm -rf "$scratch"
  if [ "$status" != 0 ]; then
    tail -n 60 "$log" >&2
    rm -f "$log"
    echo "fuzz target $target failed (exit $status); the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  rm -f "$log"
done
