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
# measurement gets a fresh server. Takes ~10 minutes (3 pairs a case). Not a test: figures go to docs/performance.md.
#
#   bash benches/latency.sh                  # everything
#   RATES="4000" SECS=10 NO_HOLD=1 bash benches/latency.sh
#   REPEAT=5 RATES="4000" KEPT="" NO_HOLD=1 bash benches/latency.sh   # more pairs at one rate
#   LOGINSTORM=/path/to/other/loginstorm bash benches/latency.sh    # an older build, same script
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist --quiet --bin loginstorm --example floor
BIN=${LOGINSTORM:-$PWD/target/dist/loginstorm}
FLOOR=$PWD/target/dist/examples/floor
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
RATES=${RATES:-1000 4000 8000}
SECS=${SECS:-10}
KEPT=${KEPT-64 512}
# The client under test on CLIENT_CPUS; the server on SERVER_CPUS with SERVER_WORKERS workers
# (benches/server.sh). On this 2-core machine: 1, and 0 with one worker.
CLIENT_CPUS=${CLIENT_CPUS:-1}

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
  taskset -c "$CLIENT_CPUS" "$BIN" run "$1" --quiet --target "$URL" --out "$WORK/out" \
    --set target.credentials="$WORK/creds.csv" "${@:2}" >"$WORK/run.out" 2>&1 || true
  ls_figures "$(ls -td "$WORK"/out/*/ | head -1)"
}

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -r)"
echo "loginstorm: $BIN ($("$BIN" --version))"
echo "server: CPUs ${SERVER_CPUS:-0}, ${SERVER_WORKERS:-1} worker(s); client: CPUs $CLIENT_CPUS"
echo
# Each measurement is a pair — the floor and loginstorm, each on a fresh server, in alternating
# order — repeated REPEAT times (default 3). This machine's run-to-run spread is large (the
# floor's own p99 moves 2–3× between runs), so every rate ends with the medians of the pairs'
# ratios: the figure to judge, beside the pairs it comes from.
REPEAT=${REPEAT:-3}
ROWS="$WORK/rows"
floor_open() { taskset -c "$CLIENT_CPUS" "$FLOOR" open "$URL" "$WORK/creds.csv" "$1" "$SECS"; }
ls_open() { run_ls benches/open.toml --set load.stages="$1,1us;$1,${SECS}s"; }
floor_kept() { taskset -c "$CLIENT_CPUS" "$FLOOR" kept "$URL" "$WORK/creds.csv" "$1" "$SECS"; }
ls_kept() {
  run_ls benches/cycles.toml --set accounts.count="$1" --set accounts.id_pattern='lat-{n}' \
    --set checks.enabled=true --set load.duration="${SECS}s"
}
# pair KIND ARG REP: one floor run and one loginstorm run, each against its own fresh server;
# sets $f (the floor's key=value line) and $l (loginstorm's figures).
pair() {
  local i
  for i in 0 1; do
    start_server
    if [ $(( (i + $3) % 2 )) = 0 ]; then f=$("floor_$1" "$2"); else l=$("ls_$1" "$2"); fi
    stop_server
  done
}
# The medians of a rate's pairs: CPU ratio, ready p99 ratio, ready − ready_service p50, lag;
# then the two sides' p99 medians and their ratio (each run's tail is disturbed on its own by
# the machine — another task on the client's core for a few ms — so the ratio of the medians
# is the steadier estimate), and how late each side's own timer started its arrivals.
# loginstorm's `ready_service` ends at the kernel's receipt of `sdkStateReady`; the floor
# reports both its own view (after reading and scanning the frames) and the receipt, and the
# receipt is the like-for-like comparison.
medians() {
  python3 - "$ROWS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def med(i):
    v = [float(r[i]) for r in rows if len(r) > i and r[i] not in ("-", "nan")]
    return statistics.median(v) if v else float("nan")
print("median of %d pairs: cpu ratio %.2fx | ready_service p99 / floor p99 %.2fx | ready p50 - ready_service p50 %.0f us | lag p50 %.0f us, p99 %.0f us"
      % (len(rows), med(0), med(1), med(2), med(3), med(4)))
if len(rows[0]) > 5:
    print("  p99 medians: loginstorm ready_service %.0f us, floor %.0f us as it saw it (%.2fx), %.0f us from its socket's receipt (%.2fx) | timer lag p99 medians: loginstorm %.0f us, floor %.0f us"
          % (med(5), med(6), med(5) / med(6), med(8), med(5) / med(8), med(4), med(7)))
PY
}

echo "== open model, fresh connection per cycle, ${SECS}s per measurement, $REPEAT pairs per rate =="
printf '%-6s | %-28s | %-52s | %-16s | %-14s | %s\n' rate "floor cpu/cycle ready p50/p99 (received p99)" \
  "loginstorm cpu/cycle ready_service p50/p99 ready p50/p99" "lag p50/p99" "floor lag p99" "cpu ratio"
for rate in $RATES; do
  : >"$ROWS"
  for rep in $(seq "$REPEAT"); do
    pair open "$rate" "$rep"
    read -r n cpu rs50 rs99 r50 r99 l50 l99 err <<<"$l"
    fcpu=$(kv "$f" cpu_us_per_cycle)
    printf '%-6s | %6s us %6s / %6s us (%6s us) | %6s us %6s / %6s us %6s / %6s us | %5s / %5s us | %8s us | %s (floor %s cycles, %s errors; loginstorm %s cycles, %s errors)\n' \
      "$rate" "$fcpu" "$(kv "$f" ready_p50_us)" "$(kv "$f" ready_p99_us)" "$(kv "$f" ready_received_p99_us)" "$cpu" "$rs50" "$rs99" "$r50" "$r99" \
      "$l50" "$l99" "$(kv "$f" lag_p99_us)" "$(ratio "$cpu" "$fcpu")" \
      "$(kv "$f" cycles)" "$(kv "$f" errors)" "$n" "$err"
    awk -v c="$cpu" -v fc="$fcpu" -v p="$rs99" -v fp="$(kv "$f" ready_p99_us)" -v r="$r50" -v s="$rs50" \
      -v l5="$l50" -v l9="$l99" -v fl="$(kv "$f" lag_p99_us)" -v fr="$(kv "$f" ready_received_p99_us)" 'BEGIN { if (c == "-") print "- - - - - - - - -"; else
        printf "%f %f %f %s %s %s %s %s %s\n", c / fc, p / fp, r - s, l5, l9, p, fp, fl, fr }' >>"$ROWS"
  done
  medians
done
echo
echo "== closed model, kept connections, back-to-back cycles, checks on, ${SECS}s, $REPEAT pairs each =="
for inst in $KEPT; do
  : >"$ROWS"
  for rep in $(seq "$REPEAT"); do
    pair kept "$inst" "$rep"
    read -r n cpu rs50 rs99 _ _ _ _ err <<<"$l"
    fcpu=$(kv "$f" cpu_us_per_cycle)
    printf '%4s instances | floor %6s us/cycle (%s cycles/s, ready p50/p99 %s/%s us) | loginstorm %6s us/cycle (%s cycles, %s errors, ready_service p50/p99 %s/%s us) | cpu ratio %s\n' \
      "$inst" "$fcpu" "$(kv "$f" cycles_per_sec)" "$(kv "$f" ready_p50_us)" "$(kv "$f" ready_p99_us)" \
      "$cpu" "$n" "$err" "$rs50" "$rs99" "$(ratio "$cpu" "$fcpu")"
    awk -v c="$cpu" -v fc="$fcpu" -v p="$rs99" -v fp="$(kv "$f" ready_p99_us)" 'BEGIN {
      if (c == "-") print "- - - - -"; else printf "%f %f nan nan nan\n", c / fc, p / fp }' >>"$ROWS"
  done
  medians
done
if [ -z "${NO_HOLD:-}" ]; then
  echo
  echo "== memory per idle ready session (benches/bench.sh hold) =="
  LOGINSTORM="$BIN" bash benches/bench.sh hold
  # The floor holding idle ready sessions, for reference (tungstenite's own handshake keeps a
  # 4 KiB read buffer per connection, which loginstorm's own upgrade does not).
  start_server
  f1=$(taskset -c "$CLIENT_CPUS" "$FLOOR" hold "$URL" "$WORK/creds.csv" 1000 6)
  f2=$(taskset -c "$CLIENT_CPUS" "$FLOOR" hold "$URL" "$WORK/creds.csv" 19000 12)
  stop_server
  echo "floor memory per session: $(( ($(kv "$f2" rss_kib) - $(kv "$f1" rss_kib)) * 1024 / ($(kv "$f2" ready) - $(kv "$f1" ready)) )) bytes ($f1; $f2)"
fi
