#!/usr/bin/env bash
# loginstorm beside the floor (benches/floor.rs: a bare tokio-tungstenite client doing the same
# cycle, no actors, no checks, no reports), in one run, against the same reference server:
#   - open model, fresh connection per cycle (connect → login → ready → logout → close), a new
#     account per arrival, at 1,000 / 4,000 / 8,000 cycles/s: CPU per cycle of each and the
#     ratio; login → sdkStateReady p50/p99 from the floor and from loginstorm (`ready_service`
#     from the send, `ready` adding how late the cycle began); loginstorm's `schedule_lag`;
#   - closed model, kept connections, back-to-back cycles with the checks on, 64 and 512
#     instances: CPU per cycle of each and the ratio;
#   - memory per idle ready session (benches/bench.sh hold), unless NO_HOLD=1.
# The server (`serve --workers 1`) is pinned to CPU 0, the client under test to CPU 1; each
# measurement gets a fresh server. Takes ~6 minutes. Not a test: figures go to docs/performance.md.
#
#   bash benches/latency.sh                  # everything
#   RATES="4000" SECS=10 NO_HOLD=1 bash benches/latency.sh
#   REPEAT=3 RATES="4000 8000" KEPT="" NO_HOLD=1 bash benches/latency.sh   # the spread of each
#   LOGINSTORM=/path/to/other/loginstorm bash benches/latency.sh    # an older build, same script
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin loginstorm --example floor
BIN=${LOGINSTORM:-$PWD/target/release/loginstorm}
FLOOR=$PWD/target/release/examples/floor
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
RATES=${RATES:-1000 4000 8000}
SECS=${SECS:-10}
KEPT=${KEPT-64 512}

"$FLOOR" credentials 40000 'lat-{n}' >"$WORK/creds.csv"

. benches/server.sh
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
ratio() { if [ "$1" = "-" ]; then echo "-"; else awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; fi; }

# loginstorm's figures from its report: cycles, cpu us/cycle, ready_service p50/p99, ready
# p50/p99, schedule_lag p50/p99, errors
ls_figures() {
  python3 - "$1" <<'PY'
import csv, json, sys, os
d = sys.argv[1]
# An older loginstorm (LOGINSTORM=…) may not report its own CPU: "-" then.
g = json.load(open(os.path.join(d, "run.json"))).get("generator") or {"cycles": "-", "cpu_us_per_cycle": None}
s = {r["metric"]: r for r in csv.DictReader(open(os.path.join(d, "summary.csv")))}
c = {r["counter"]: r["value"] for r in csv.DictReader(open(os.path.join(d, "counters.csv")))}
def q(m, p):
    return (s[m][p] or "-") if m in s else "-"
cpu = "-" if g["cpu_us_per_cycle"] is None else "%.1f" % g["cpu_us_per_cycle"]
print(g["cycles"], cpu, q("ready_service", "p50_us"), q("ready_service", "p99_us"),
      q("ready", "p50_us"), q("ready", "p99_us"), q("schedule_lag", "p50_us"), q("schedule_lag", "p99_us"),
      c.get("errors_total", "?"))
PY
}

run_ls() {
  taskset -c 1 "$BIN" run "$1" --quiet --target "$URL" --out "$WORK/out" \
    --set target.credentials="$WORK/creds.csv" "${@:2}" >"$WORK/run.out" 2>&1 || true
  ls_figures "$(ls -td "$WORK"/out/*/ | head -1)"
}

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -r)"
echo "loginstorm: $BIN ($("$BIN" --version))"
echo
echo "== open model, fresh connection per cycle, ${SECS}s per measurement =="
printf '%-6s | %-28s | %-52s | %-16s | %s\n' rate "floor cpu/cycle ready p50/p99" \
  "loginstorm cpu/cycle ready_service p50/p99 ready p50/p99" "lag p50/p99" "cpu ratio"
for rate in $(for r in $RATES; do for _ in $(seq "${REPEAT:-1}"); do echo "$r"; done; done); do
  start_server
  f=$(taskset -c 1 "$FLOOR" open "$URL" "$WORK/creds.csv" "$rate" "$SECS")
  stop_server
  start_server
  read -r n cpu rs50 rs99 r50 r99 l50 l99 err < <(run_ls benches/open.toml \
    --set load.stages="$rate,1us;$rate,${SECS}s")
  stop_server
  fcpu=$(kv "$f" cpu_us_per_cycle)
  printf '%-6s | %6s us %6s / %6s us | %6s us %6s / %6s us %6s / %6s us | %5s / %5s us | %s (floor %s cycles, %s errors; loginstorm %s cycles, %s errors)\n' \
    "$rate" "$fcpu" "$(kv "$f" ready_p50_us)" "$(kv "$f" ready_p99_us)" "$cpu" "$rs50" "$rs99" "$r50" "$r99" \
    "$l50" "$l99" "$(ratio "$cpu" "$fcpu")" \
    "$(kv "$f" cycles)" "$(kv "$f" errors)" "$n" "$err"
done
echo
echo "== closed model, kept connections, back-to-back cycles, checks on, ${SECS}s =="
for inst in $KEPT; do
  start_server
  f=$(taskset -c 1 "$FLOOR" kept "$URL" "$WORK/creds.csv" "$inst" "$SECS")
  stop_server
  start_server
  read -r n cpu rs50 rs99 _ _ _ _ err < <(run_ls benches/cycles.toml \
    --set accounts.count="$inst" --set accounts.id_pattern='lat-{n}' --set checks.enabled=true \
    --set load.duration="${SECS}s")
  stop_server
  fcpu=$(kv "$f" cpu_us_per_cycle)
  printf '%4s instances | floor %6s us/cycle (%s cycles/s, ready p50/p99 %s/%s us) | loginstorm %6s us/cycle (%s cycles, %s errors, ready_service p50/p99 %s/%s us) | cpu ratio %s\n' \
    "$inst" "$fcpu" "$(kv "$f" cycles_per_sec)" "$(kv "$f" ready_p50_us)" "$(kv "$f" ready_p99_us)" \
    "$cpu" "$n" "$err" "$rs50" "$rs99" "$(ratio "$cpu" "$fcpu")"
done
if [ -z "${NO_HOLD:-}" ]; then
  echo
  echo "== memory per idle ready session (benches/bench.sh hold) =="
  LOGINSTORM="$BIN" bash benches/bench.sh hold
  # The floor holding idle ready sessions, for reference (tungstenite's own handshake keeps a
  # 4 KiB read buffer per connection, which loginstorm's own upgrade does not).
  start_server
  f1=$(taskset -c 1 "$FLOOR" hold "$URL" "$WORK/creds.csv" 1000 6)
  f2=$(taskset -c 1 "$FLOOR" hold "$URL" "$WORK/creds.csv" 19000 12)
  stop_server
  echo "floor memory per session: $(( ($(kv "$f2" rss_kib) - $(kv "$f1" rss_kib)) * 1024 / ($(kv "$f2" ready) - $(kv "$f1" ready)) )) bytes ($f1; $f2)"
fi
