#!/usr/bin/env bash
# Alternates the release hub benchmark of an older checkout (BASE_DIR, built
# with `cargo bench --bench hub --no-run` there) with this checkout's,
# ROUNDS times each, and prints both sides' output per round. Used for the
# before/after tables in BENCHMARKS.md.
#
#   cargo bench --bench hub --no-run
#   benches/compare-hub.sh /path/to/older/checkout [ROUNDS] > compare.txt
set -euo pipefail
base_dir=$(cd "$1" && pwd)
rounds=${2:-11}
here=$(cd "$(dirname "$0")/.." && pwd)
newest() { ls -t "$1"/target/release/deps/hub-* | grep -v '\.d$' | head -1; }
base=$(newest "$base_dir")
head=$(newest "$here")
for round in $(seq 1 "$rounds"); do
  for side in base head; do
    if [ "$side" = base ]; then bin=$base dir=$base_dir; else bin=$head dir=$here; fi
    echo "=== round $round, $side: $(uptime)"
    # Each bench binary finds its own server binary under its checkout.
    (cd "$dir" && timeout 600 "$bin" --bench --quick)
  done
done
