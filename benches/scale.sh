#!/usr/bin/env bash
# 100,000 concurrent ready sessions on one machine: `run --processes N` against embedded
# reference servers (one per shard process), with the checks on. Not a test: ~3 minutes.
#
#   bash benches/scale.sh                       # 100,000 sessions, 12 processes
#   SESSIONS=50000 PROCS=6 bash benches/scale.sh
#   BASE_SESSIONS=12000 bash benches/scale.sh   # the small run memory per session is taken against
#
# Why 12 processes for 100,000: each session is two descriptors in its process (the client's
# socket and, in the embedded server, the accepted one), and the open-file hard limit here is
# 20,000 per process: 100,000 × 2 / 12 = 16,667 a process, under the limit with room for the
# rest. Each shard connects to its own server's port, so no process needs more than 8,334
# ephemeral ports (the range is 28,232).
#
# Prints the most sessions ready at once (the merged timeseries.csv), the total resident memory
# of every process at its peak (sampled from /proc once a second), the kernel's TCP memory at its
# peak (TCP buffers from /proc/net/sockstat plus the slab's growth from /proc/meminfo: the sockets,
# their files and epoll entries, both ends), and memory per
# session: the peak at SESSIONS minus the peak at BASE_SESSIONS (same process count), over the
# difference — what one more ready session costs, generator and embedded server together, and
# the kernel beside them.
#
#   SESSIONS=250000 PROCS=26 bash benches/scale.sh   # 250,000: 500,000 descriptors over 26 processes
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile dist --quiet
BIN=${LOGINSTORM:-$PWD/target/dist/loginstorm}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
SESSIONS=${SESSIONS:-100000}
BASE_SESSIONS=${BASE_SESSIONS:-12000}
PROCS=${PROCS:-12}
RAMP=${RAMP:-2500}
# Hold long enough for the ramp to finish and the plateau to be sampled.
HOLD_S=${HOLD_S:-$(( SESSIONS / RAMP + 25 ))}

# Resident KiB of the parent and every child.
rss_all() {
  local total=0 pid v
  for pid in $1 $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
    v=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || true)
    total=$(( total + ${v:-0} ))
  done
  echo "$total"
}

# The kernel's memory for sockets now, in KiB: TCP buffers (sockstat's `mem`, in pages) plus
# the slab (the sockets themselves, their files, epoll entries; /proc/meminfo `Slab`, the whole
# machine's — the run's share is its growth over the idle figure taken before it).
tcp_kib() {
  local pg buf slab
  pg=$(getconf PAGESIZE)
  buf=$(awk -v pg="$pg" '/^TCP:/{for (i=1;i<NF;i++) if ($i=="mem") print int($(i+1)*pg/1024)}' /proc/net/sockstat)
  slab=$(awk '/^Slab:/{print $2}' /proc/meminfo)
  echo $(( buf + slab - IDLE_SLAB ))
}
IDLE_SLAB=0
IDLE_SLAB=$(tcp_kib)

# run N: peak resident KiB, most sessions live at once and peak kernel TCP KiB, as
# "peak_kib max_live tcp_kib".
run() {
  local n=$1 dir="$WORK/run-$1" peak=0 tcp=0 r t
  "$BIN" run benches/scale.toml --processes "$PROCS" --quiet --report-dir "$dir" \
    --set accounts.count="$n" --set load.ramp="$RAMP" --set cycle.hold="${HOLD_S}s" \
    >"$WORK/run-$n.log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    r=$(rss_all "$pid"); (( r > peak )) && peak=$r
    t=$(tcp_kib); t=${t%.*}; (( t > tcp )) && tcp=$t
    sleep 1
  done
  wait "$pid" || { echo "run of $n sessions failed:"; tail -30 "$WORK/run-$n.log"; exit 1; }
  local live
  live=$(python3 - "$dir/timeseries.csv" <<'PY'
import csv, sys
print(max(int(r["live_sessions"]) for r in csv.DictReader(open(sys.argv[1]))))
PY
)
  grep -E "^(verdict|logins|connections)" "$WORK/run-$n.log" >&2
  echo "$peak $live $tcp"
}

# Loopback packets queue in a per-CPU backlog of net.core.netdev_max_backlog (1,000 by
# default); with hundreds of thousands of idle connections the server's keepalive probes come
# in bursts, and with both cores busy the backlog overflows and drops probes or their ACKs —
# after six unanswered probes the kernel aborts the connection (TcpExtTCPAbortOnTimeout), and
# the client finds it gone at its logout. At 250,000 sessions that lost 187,320 of them.
backlog=$(cat /proc/sys/net/core/netdev_max_backlog 2>/dev/null || echo 0)
if [ "$backlog" -lt 100000 ] && [ "$SESSIONS" -gt 100000 ]; then
  echo "warning: net.core.netdev_max_backlog is $backlog; past 100,000 sessions raise it (as root: sysctl -w net.core.netdev_max_backlog=100000) or idle connections are lost to dropped keepalives" >&2
fi
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), open files $(ulimit -Hn) per process; $PROCS processes"
read -r base_kib base_live base_tcp < <(run "$BASE_SESSIONS")
echo "$BASE_SESSIONS sessions: most ready at once $base_live, peak RSS $(( base_kib / 1024 )) MiB (all processes), kernel socket memory $(( base_tcp / 1024 )) MiB"
read -r kib live tcp < <(run "$SESSIONS")
echo "$SESSIONS sessions: most ready at once $live, peak RSS $(( kib / 1024 )) MiB (all processes), kernel socket memory $(( tcp / 1024 )) MiB"
awk -v a="$kib" -v b="$base_kib" -v n="$SESSIONS" -v m="$BASE_SESSIONS" -v t="$tcp" -v u="$base_tcp" 'BEGIN {
  printf "memory per ready session (generator + embedded server): %.2f KiB marginal, %.2f KiB all-in\n", (a - b) / (n - m), a / n
  printf "kernel socket memory per ready session (both ends): %.2f KiB marginal, %.2f KiB all-in\n", (t - u) / (n - m), t / n }'
