#!/usr/bin/env bash
# Vellum against an earlier revision of itself, in alternating runs on one machine, so that a
# change can be shown to cost nothing (the machine's drift between runs is shared by both).
#
#   bash benches/compare.sh REV [ROUNDS]     # e.g. bash benches/compare.sh HEAD~3 3
#
# Builds release wheels of REV (in a temporary worktree) and of this checkout into
# .venv-bench-base and .venv-bench, then runs benches/run.py with pymongo raw, vellum and
# vellum trusted ROUNDS times each (default 2), A B A B..., and prints per scenario the median
# over the runs of each build's median and of its ratio to pymongo raw in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bash benches/compare.sh REV [ROUNDS]}
rounds=${2:-2}
out=$(mktemp -d)
base_tree="$out/base"

cargo build --quiet --release --manifest-path benches/stubserver/Cargo.toml
VELLUM_PROFILE=release bash scripts/setup.sh python3 .venv-bench
.venv-bench/bin/python -m pip install -q --disable-pip-version-check -r benches/requirements.txt

commit=$(git rev-parse "$rev^{commit}")
if [ "$(cat .venv-bench-base/REVISION 2>/dev/null)" != "$commit" ]; then
  git worktree add --quiet --detach "$base_tree" "$commit"
  trap 'git worktree remove --force "$base_tree"' EXIT
  if [ ! -x .venv-bench-base/bin/python ]; then python3 -m venv .venv-bench-base; fi
  .venv-bench-base/bin/python -m pip install -q --disable-pip-version-check \
    -r requirements-dev.txt -r benches/requirements.txt
  (cd "$base_tree" && CARGO_TARGET_DIR="$OLDPWD/target" \
    "$OLDPWD/.venv-bench-base/bin/maturin" build -q --release --out "$out/wheels" >&2)
  .venv-bench-base/bin/python -m pip install -q --disable-pip-version-check --force-reinstall \
    --no-deps "$out"/wheels/vellum_odm-*.whl
  echo "$commit" > .venv-bench-base/REVISION
fi

peers="pymongo raw,vellum,vellum trusted"
for round in $(seq 1 "$rounds"); do
  for side in base head; do
    venv=.venv-bench; [ "$side" = base ] && venv=.venv-bench-base
    echo "round $round: $side" >&2
    "$venv/bin/python" benches/run.py --peers "$peers" --out "$out/$side-$round" > /dev/null
  done
done
python3 benches/compare.py "$rev" "$out"
