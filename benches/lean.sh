#!/usr/bin/env bash
# loginstorm's whole-process CPU against the leanest bare client (benches/lean.rs: no code
# shared with loginstorm, no timestamps, tokio-tungstenite on one thread), in alternating
# pairs, each against a fresh reference server pinned to the other core: the fresh-connection
# open-model cycle (connect → login → ready → logout → close, a new user per arrival,
# credentials from a file) at RATE/s for SECS s. Per run:
#   - whole-process CPU (perf's task-clock, start to exit: startup and reports included) per
#     cycle;
#   - steady-state system calls a cycle (`perf stat -e raw_syscalls:sys_enter`, the 2 s
#     intervals from 2 s to SECS−2 s, over the cycles those intervals held);
#   - for loginstorm, where its CPU went: before the load, during it, after it (reports), from
#     its run.json;
#   - the same for `lean paced`: the lean client offering the load loginstorm offers (each
#     arrival at its own instant, where tokio's timer starts them up to 1 ms late) and ending
#     with a close frame, nothing else; and for `lean matched`: `paced` with TCP_NODELAY and
#     SO_TIMESTAMPNS on every connection, as loginstorm set them before engine/nagle.rs (now it
#     sets SO_TIMESTAMPNS, and TCP_NODELAY only before a write Nagle could hold);
#   - how late each client started its arrivals: lag p50 (loginstorm's `schedule_lag`).
# Then the same for kept connections (closed model, back-to-back login → ready → logout on
# connections kept open, loginstorm with its checks on: benches/cycles.toml), at each instance
# count of KEPT. Ends with the median ratios. Not a test: figures go to docs/performance.md.
#
#   bash benches/lean.sh                     # 4,000/s, 10 s, 5 pairs; kept at 64 and 512
#   RATE=1000 REPEAT=3 KEPT= bash benches/lean.sh
#   FRESH=0 REPEAT=3 bash benches/lean.sh    # kept connections only
#   BREAKDOWN=0 …                            # without the per-call count of the fresh cycle
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist --quiet --bin loginstorm --example floor --example lean
BIN=${LOGINSTORM:-$PWD/target/dist/loginstorm}
FLOOR=$PWD/target/dist/examples/floor
LEAN=$PWD/target/dist/examples/lean
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
RATE=${RATE:-4000}
SECS=${SECS:-10}
REPEAT=${REPEAT:-5}
ACCOUNTS=${ACCOUNTS:-40000}
CLIENT_CPUS=${CLIENT_CPUS:-1}
KEPT=${KEPT-64 512}
"$FLOOR" credentials "$ACCOUNTS" 'lat-{n}' >"$WORK/creds.csv"
. benches/server.sh

# measure NAME CMD...: run CMD on the client core under perf and time; print
# "cpu_us_per_cycle syscalls_per_cycle cycles lag_p50_us" (cycles and lag from the command's
# own output; loginstorm's lag from its summary.csv).
measure() {
  local name=$1; shift
  taskset -c "$CLIENT_CPUS" perf stat -x, -I 2000 -e raw_syscalls:sys_enter,task-clock \
    -o "$WORK/$name.perf" "$@" >"$WORK/$name.out" 2>&1 || true
  python3 - "$WORK/$name" "$RATE" "$SECS" <<'PY'
import sys, re
base, rate, secs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
out = open(base + ".out").read()
m = re.search(r"cycles[= ](\d+)", out)
cycles = int(m.group(1)) if m else 0
m = re.search(r"lag_p50_us=(\d+)", out)
lag = m.group(1) if m else "-"
# Interval lines: time,count,unit,event,… — system calls a count, task-clock in ms of CPU
# (the process and its threads, start to exit: the intervals sum to the whole).
rows, cpu_ms = [], 0.0
for line in open(base + ".perf"):
    f = line.strip().split(",")
    if len(f) < 4 or not f[0] or not f[0][0].isdigit():
        continue
    try:
        t, n = float(f[0]), float(f[1])
    except ValueError:
        continue
    if f[3].startswith("raw_syscalls"):
        rows.append((t, n))
    elif f[3].startswith("task-clock"):
        cpu_ms += n
steady = [n for t, n in rows if 2.0 < t <= secs - 2.0 + 0.5]
per = sum(steady) / (len(steady) * 2.0 * rate) if steady else float("nan")
cpu = cpu_ms * 1e3 / cycles if cycles else float("nan")
print(f"{cpu:.1f} {per:.1f} {cycles} {lag}")
PY
}

ls_run() {
  rm -rf "$WORK/out"
  measure ls "$BIN" run benches/open.toml --quiet --target "$URL" --out "$WORK/out" \
    --set target.credentials="$WORK/creds.csv" --set accounts.count="$ACCOUNTS" \
    --set load.stages="$RATE,1us;$RATE,${SECS}s"
}
# loginstorm's schedule_lag p50 (µs), from its summary.csv.
ls_lag() {
  awk -F, '$1 == "schedule_lag" { print $5 }' "$(ls -d "$WORK"/out/*/ | head -1)summary.csv"
}
# loginstorm's own account of its CPU: before the load, during, after it (stopping, collecting
# and writing the reports), and the reports' writing alone (wall time), from run.json.
ls_phases() {
  python3 - "$(ls -d "$WORK"/out/*/ | head -1)" <<'PY'
import json, sys, os
j = json.load(open(os.path.join(sys.argv[1], "run.json")))
g = j.get("generator") or {}
f = lambda k: "-" if g.get(k) is None else "%.0fms" % (g[k] * 1e3)
r = j.get("report_write_secs")
w = "-" if r is None else "%.0fms" % (r * 1e3)
print(f"before={f('startup_cpu_secs')} load={f('cpu_secs')} after={f('after_load_cpu_secs')} (reports {w})")
PY
}

echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -r)"
echo "loginstorm: $BIN ($("$BIN" --version)); $RATE/s fresh for $SECS s, $ACCOUNTS accounts"
printf "%-5s %-11s %-11s %-7s %-9s %s\n" pair client "cpu/cycle" calls "lag p50" "cycles / loginstorm's phases"
declare -A R
med() { printf "%s\n" "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
for i in $(seq "$([ "${FRESH:-1}" = 0 ] && echo 0 || echo "$REPEAT")"); do
  orders="open paced matched loginstorm"; [ $((i % 2)) -eq 0 ] && orders="loginstorm matched paced open"
  declare -A C=() N=() G=() Y=()
  for order in $orders; do
    start_server
    case $order in
      loginstorm) out=$(ls_run); P=$(ls_phases); lag=$(ls_lag) ;;
      *) out=$(measure "$order" "$LEAN" "$order" "$URL" "$WORK/creds.csv" "$RATE" "$SECS"); P= ; lag= ;;
    esac
    stop_server
    read -r c n y g <<<"$out"
    C[$order]=$c; N[$order]=$n; Y[$order]=$y; G[$order]=${lag:-$g}
    printf "%-5s %-11s %-11s %-7s %-9s %s\n" "$i" "$order" "${c}us" "$n" "${G[$order]}us" "$y ${P}"
  done
  line="      loginstorm ÷"
  for base in open paced matched; do
    cr=$(ratio "${C[loginstorm]}" "${C[$base]}"); sr=$(ratio "${N[loginstorm]}" "${N[$base]}")
    R[$base.cpu]+=" $cr"; R[$base.calls]+=" $sr"
    line="$line $base: CPU ${cr}x calls ${sr}x;"
  done
  echo "${line%;}"
done
if [ "${FRESH:-1}" != 0 ]; then
  for base in open paced matched; do
    # shellcheck disable=SC2086
    echo "median, loginstorm ÷ $base: whole-process CPU per cycle $(med ${R[$base.cpu]})x; steady-state system calls a cycle $(med ${R[$base.calls]})x"
  done
fi

# Where the system calls differ: one more pair, counted per call (whole run, per cycle).
breakdown() {
  local ev="" c
  for c in sendto recvfrom recvmsg epoll_wait epoll_ctl write read setsockopt getsockopt \
    timerfd_settime socket connect close brk mmap munmap madvise mprotect futex; do
    ev="$ev,syscalls:sys_enter_$c"
  done
  for m in open paced; do
    start_server
    taskset -c "$CLIENT_CPUS" perf stat -x, -e "${ev#,}" -o "$WORK/$m.calls" \
      "$LEAN" "$m" "$URL" "$WORK/creds.csv" "$RATE" "$SECS" >/dev/null 2>&1 || true
    stop_server
  done
  start_server; rm -rf "$WORK/out"
  taskset -c "$CLIENT_CPUS" perf stat -x, -e "${ev#,}" -o "$WORK/ls.calls" \
    "$BIN" run benches/open.toml --quiet --target "$URL" --out "$WORK/out" \
    --set target.credentials="$WORK/creds.csv" --set accounts.count="$ACCOUNTS" \
    --set load.stages="$RATE,1us;$RATE,${SECS}s" >/dev/null 2>&1 || true
  stop_server
  python3 - "$WORK" "$(python3 -c "print(int($RATE*$SECS))")" <<'PY'
import sys
def load(f):
    d = {}
    for l in open(f):
        p = l.strip().split(",")
        if len(p) > 3 and p[0] and p[0][0].isdigit():
            d[p[2].replace("syscalls:sys_enter_", "")] = float(p[0])
    return d
a, p, b = (load(sys.argv[1] + f) for f in ("/open.calls", "/paced.calls", "/ls.calls"))
n = float(sys.argv[2])
print("system calls a cycle, whole run, where they differ:  open   paced  loginstorm")
for k in sorted(a, key=lambda k: -abs(b.get(k, 0) - a[k])):
    if abs(b.get(k, 0) - a[k]) / n >= 0.05:
        print(f"  {k:<18} {a[k]/n:8.2f} {p.get(k,0)/n:8.2f} {b.get(k,0)/n:8.2f}")
PY
}
[ "${FRESH:-1}" = 0 ] || [ "${BREAKDOWN:-1}" = 0 ] || breakdown

# Kept connections: the same pairs, per instance count. `measure` divides system calls by
# RATE × 2 s; here the rate is what the run achieved, so the per-cycle figure is recomputed.
for inst in $KEPT; do
  echo "== kept connections, $inst instances, back-to-back cycles, checks on, ${SECS}s =="
  CPU_R=(); SYS_R=()
  for i in $(seq "$REPEAT"); do
    for order in lean ls; do
      [ $((i % 2)) -eq 0 ] && order=$([ "$order" = lean ] && echo ls || echo lean)
      start_server
      if [ "$order" = lean ]; then
        L=$(measure lean "$LEAN" kept "$URL" "$WORK/creds.csv" "$inst" "$SECS")
      else
        rm -rf "$WORK/out"
        S=$(measure ls "$BIN" run benches/cycles.toml --quiet --target "$URL" --out "$WORK/out" \
          --set target.credentials="$WORK/creds.csv" --set accounts.count="$inst" \
          --set accounts.id_pattern='lat-{n}' --set checks.enabled=true \
          --set load.duration="${SECS}s")
      fi
      stop_server
    done
    read -r lc ls_ lcy _ <<<"$L"; read -r sc ss scy _ <<<"$S"
    # system calls a cycle at the achieved rate: scale by RATE / (cycles / SECS)
    ls_=$(awk -v v="$ls_" -v r="$RATE" -v c="$lcy" -v s="$SECS" 'BEGIN{printf "%.1f", v*r*s/c}')
    ss=$(awk -v v="$ss" -v r="$RATE" -v c="$scy" -v s="$SECS" 'BEGIN{printf "%.1f", v*r*s/c}')
    cr=$(awk -v a="$sc" -v b="$lc" 'BEGIN{printf "%.2f", a/b}')
    sr=$(awk -v a="$ss" -v b="$ls_" 'BEGIN{printf "%.2f", a/b}')
    CPU_R+=("$cr"); SYS_R+=("$sr")
    printf "%-5s %-30s %-30s %-9s %-9s\n" "$i" "${lc}us ${ls_} $lcy" "${sc}us ${ss} $scy" "${cr}x" "${sr}x"
  done
  echo "median ratio at $inst kept: whole-process CPU per cycle $(med "${CPU_R[@]}")x; steady-state system calls a cycle $(med "${SYS_R[@]}")x"
done
