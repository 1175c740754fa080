#!/usr/bin/env bash
# What the protocol profile costs the generator: the same benches/latency.sh measurements (open
# model 4,000 fresh cycles/s; kept connections at 64 and 512 instances, checks on) with this
# build (profile-driven protocol v1) and with a build from before profiles (built-in v1),
# alternated ROUNDS times so drift hits both alike, both against the older build's server (so
# only the generator differs). Not a test; figures in docs/performance.md.
#
#   BEFORE=/path/to/older/loginstorm bash benches/profile-cost.sh
#   ROUNDS=3 BEFORE=… bash benches/profile-cost.sh
#
# Make the older build with, e.g.:
#   git worktree add /tmp/before <commit> && (cd /tmp/before && cargo build --profile dist --bin loginstorm)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BEFORE:?set BEFORE to a loginstorm binary built before protocol profiles}"
cargo build --profile dist --quiet --bin loginstorm --example floor
ROUNDS=${ROUNDS:-2}
for round in $(seq "$ROUNDS"); do
  for build in before after; do
    bin=$PWD/target/dist/loginstorm
    [ "$build" = before ] && bin=$BEFORE
    echo "== round $round: $build ($bin)"
    SERVER_BIN=$BEFORE LOGINSTORM=$bin RATES=4000 SECS=10 NO_HOLD=1 bash benches/latency.sh 2>&1 \
      | grep -E "^ *[0-9]+ +(\||instances)" || true
  done
done
