#!/usr/bin/env bash
# Can `loginstorm compare` be trusted? For each shipped scenario, while another process keeps
# one core busy (as on a shared CI runner): one baseline run, PAIRS same-seed reruns each
# compared with the baseline at the default tolerance (none should regress), then one run
# against a server slowed so that `ready` p50 about doubles (its ready delay raised, see
# slow_delay below), which must be flagged. Prints one line per scenario; figures are in
# docs/ci.md. Not a test: it takes 15-25 minutes on two cores.
#
#   bash benches/compare-noise.sh                      # every shipped scenario, 20 pairs
#   PAIRS=5 bash benches/compare-noise.sh smoke         # a quick look at one scenario
#   KEEP=/tmp/noise bash benches/compare-noise.sh       # keep the report directories
#   RECOMPARE=/tmp/noise bash benches/compare-noise.sh  # only re-run the comparisons
#   SLOW_ONLY=/tmp/noise bash benches/compare-noise.sh  # redo only the slowed runs, recompare
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist --quiet
BIN=$PWD/target/dist/loginstorm
PAIRS=${PAIRS:-20}
WORK=${RECOMPARE:-${SLOW_ONLY:-${KEEP:-$(mktemp -d)}}}
[ -n "${KEEP:-}${RECOMPARE:-}${SLOW_ONLY:-}" ] || trap 'rm -rf "$WORK"' EXIT

# A ready delay that about doubles the scenario's `ready` p50 on this machine: smoke and
# capacity already delay sdkStateReady (1-5 ms, 2-10 ms); expiry's logins bunch at second
# boundaries (~2 ms); the others answer in ~0.5 ms.
slow_delay() {
  case $1 in
    smoke) echo "6ms..10ms" ;;
    capacity) echo "8ms..18ms" ;;
    expiry) echo "2500us" ;;
    *) echo "500us" ;;
  esac
}
SPIN=""
trap 'kill $SPIN 2>/dev/null || true' EXIT
if [ $# -gt 0 ]; then scenarios=("$@"); else
  scenarios=(smoke kick-storm multi-platform admin-kick capacity expiry)
fi

only_dir() { ls -d "$1"/*/ | head -1; }

run() { # run NAME OUT [--set …]
  local name=$1 out=$2; shift 2
  "$BIN" run "scenarios/$name.toml" --quiet --out "$out" "$@" >/dev/null 2>&1 || true
}

printf '%-16s %8s %10s %s\n' scenario pairs flagged "slowed server (ready p50 about 2x)"
for s in "${scenarios[@]}"; do
  dir=$WORK/$s
  if [ -n "${SLOW_ONLY:-}" ]; then
    rm -rf "$dir/slow"
    ( while :; do :; done ) & SPIN=$!
    run "$s" "$dir/slow" --set "server.ready_delay=$(slow_delay "$s")"
    kill $SPIN; wait $SPIN 2>/dev/null || true; SPIN=""
  elif [ -z "${RECOMPARE:-}" ]; then
    rm -rf "$dir"; mkdir -p "$dir"
    ( while :; do :; done ) & SPIN=$!
    run "$s" "$dir/base"
    for i in $(seq "$PAIRS"); do run "$s" "$dir/rerun-$i"; done
    run "$s" "$dir/slow" --set "server.ready_delay=$(slow_delay "$s")"
    kill $SPIN; wait $SPIN 2>/dev/null || true; SPIN=""
  fi
  base=$(only_dir "$dir/base")
  flagged=0; pairs=0; what=""
  for i in $(seq "$PAIRS"); do
    [ -d "$dir/rerun-$i" ] || continue
    pairs=$((pairs + 1))
    if ! out=$("$BIN" compare "$(only_dir "$dir/rerun-$i")" "$base" 2>/dev/null); then
      flagged=$((flagged + 1))
      what="$what $(echo "$out" | awk '/REGRESSION/{print $1}' | tr '\n' ' ')"
    fi
  done
  p50() { awk -F, '$1=="ready"{print $5}' "$(only_dir "$1")/summary.csv"; }
  shift_="ready p50 $(p50 "$dir/base")us -> $(p50 "$dir/slow")us"
  if out=$("$BIN" compare "$(only_dir "$dir/slow")" "$base" 2>/dev/null); then
    slow="NOT flagged ($shift_)"
  else
    slow="flagged ($shift_): $(echo "$out" | awk '/REGRESSION/{printf "%s ", $1}')"
  fi
  noise=""
  [ -n "$what" ] && noise="($(echo $what | tr ' ' '\n' | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}'))"
  printf '%-16s %8s %10s %s %s\n' "$s" "$pairs" "$flagged" "$slow" "$noise"
done
