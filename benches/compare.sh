#!/usr/bin/env bash
# Compares the end-to-end burst benchmark of another commit with the working
# tree, alternating them so that both see the same machine:
#
#   bash benches/compare.sh f211bd9 4
#
# builds COMMIT in a worktree under target/compare (its own target
# directory), then runs `cargo bench --bench e2e -- --bursts` ROUNDS times on
# each side, one after the other, and prints the rows.
set -euo pipefail
commit=${1:?usage: benches/compare.sh COMMIT [ROUNDS]}
rounds=${2:-4}
root=$(git rev-parse --show-toplevel)
tree="$root/target/compare/tree"
rm -rf "$tree"
git -C "$root" worktree prune
git -C "$root" worktree add --detach "$tree" "$commit" >/dev/null
trap 'git -C "$root" worktree remove --force "$tree"' EXIT
export CARGO_TARGET_DIR_OTHER="$root/target/compare/target"
(cd "$tree" && CARGO_TARGET_DIR="$CARGO_TARGET_DIR_OTHER" cargo bench --bench e2e --no-run 2>/dev/null)
(cd "$root" && cargo bench --bench e2e --no-run 2>/dev/null)
for round in $(seq 1 "$rounds"); do
  echo "== round $round: $commit"
  (cd "$tree" && CARGO_TARGET_DIR="$CARGO_TARGET_DIR_OTHER" cargo bench --bench e2e -- --bursts 2>/dev/null | grep -E '^(text|json)')
  echo "== round $round: working tree"
  (cd "$root" && cargo bench --bench e2e -- --bursts 2>/dev/null | grep -E '^(text|json)')
done
