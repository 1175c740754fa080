#!/usr/bin/env bash
# A shipped reconnect scenario at its shipped size over seeds 1..SEEDS — by default
# scenarios/gateway-restart.toml (20,000 sessions as 3 shard processes, each with its embedded
# server restarted at 10 s) — one line per seed with the verdict, the sessions disrupted and how
# many came back, the recovery time p50/p99, the reconnect p99, the checks and those not judged: the soundness
# run of the reconnect scenarios (no false alarm on the correct server, whatever the seed). Not
# a test (30-60 s a seed): figures go to docs/reliability.md.
#
#   bash benches/reconnect-seeds.sh             # SEEDS=10
#   SCENARIO=scenarios/flaky-network.toml PROCESSES=1 SEEDS=20 bash benches/reconnect-seeds.sh
#   FIRST=11 SEEDS=10 bash benches/reconnect-seeds.sh      # seeds 11..20
#   SEEDS=2 SETS="--set accounts.count=1000" bash benches/reconnect-seeds.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin loginstorm
BIN=${LOGINSTORM:-$PWD/target/release/loginstorm}
SCENARIO=${SCENARIO:-scenarios/gateway-restart.toml}
SEEDS=${SEEDS:-10}
FIRST=${FIRST:-1}
PROCESSES=${PROCESSES:-3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
pass=0
for seed in $(seq "$FIRST" $((FIRST + SEEDS - 1))); do
  # shellcheck disable=SC2086
  if "$BIN" run "$SCENARIO" --processes "$PROCESSES" --seed "$seed" \
      --report-dir "$WORK/r$seed" ${SETS:-} >"$WORK/s$seed.txt" 2>&1; then
    pass=$((pass + 1))
  fi
  verdict=$(grep -m1 '^verdict:' "$WORK/s$seed.txt" || echo "verdict: (none)")
  rec=$(grep -m1 '^reconnects' "$WORK/s$seed.txt" | sed 's/^reconnects *//' || true)
  p99=$(grep -m1 '^reconnect ' "$WORK/s$seed.txt" | awk '{print $5}' || true)
  viol=$(grep -m1 '^checks' "$WORK/s$seed.txt" | sed 's/^checks *//' || true)
  unjudged=$(grep -m1 '^judged' "$WORK/s$seed.txt" | grep -o '[a-z_]* not judged' | sed 's/ not judged//' | paste -sd, - || true)
  echo "seed $seed: $verdict | $rec | reconnect p99 $p99 | $viol | not judged: ${unjudged:-none}"
done
echo "$pass of $SEEDS seeds passed"
[ "$pass" -eq "$SEEDS" ]
