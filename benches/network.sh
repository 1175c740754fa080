#!/usr/bin/env bash
# [network] as measured: the same small run on the embedded server with each network setting,
# and what ready_service (login sent → sdkStateReady) shows — p50 and p99, and the p50 added
# over the plain run beside what was asked (a delay D each way adds 2·D to the round trip).
# Not a test: the figures go to docs/scenarios.md ("[network]").
#
#   bash benches/network.sh
#   NETS='delay="100ms"' bash benches/network.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin loginstorm
BIN=${LOGINSTORM:-$PWD/target/release/loginstorm}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
base='[accounts]
count = 100
[cycle]
cycles = 5
hold = "50ms"
think = "fixed:20ms"
[load]
ramp = 200.0'
if [ -n "${NETS:-}" ]; then mapfile -t nets <<<"$NETS"; else nets=(
  ''
  'delay = "10ms"'
  'delay = "50ms"'
  'delay = "100ms"'
  'delay = "50ms"
jitter = "20ms"'
  'bandwidth = 2000'
  'stall_every = "100ms"
stall_for = "40ms"'
); fi
plain=""
i=0
for net in "${nets[@]}"; do
  i=$((i + 1))
  printf '%s\n[network]\n%s\n' "$base" "$net" >"$WORK/s.toml"
  out=$("$BIN" run "$WORK/s.toml" --quiet --report-dir "$WORK/r$i" 2>/dev/null || true)
  # summary.csv: metric,count,mean_us,min_us,p50_us,p90_us,p99_us,...
  row=$(grep '^ready_service,' "$WORK/r$i/summary.csv")
  p50=$(cut -d, -f5 <<<"$row")
  p99=$(cut -d, -f7 <<<"$row")
  [ -z "$plain" ] && plain=$p50
  verdict=$(grep -m1 '^verdict' <<<"$out" | cut -c1-40)
  awk -v n="${net//$'\n'/, }" -v a="$p50" -v b="$p99" -v z="$plain" -v v="$verdict" \
    'BEGIN { printf "%-40s | ready_service p50 %6.1f ms p99 %6.1f ms | p50 added %6.1f ms | %s\n", n, a / 1000, b / 1000, (a - z) / 1000, v }'
done
