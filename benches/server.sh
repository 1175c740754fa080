# Sourced by the bench scripts: the reference server under test, as its own process pinned to
# CPU 0 (`serve --workers 1`), so "one core" for the server is literal. Needs BIN and WORK;
# SERVER_BIN runs another build's server (to compare two generators against one server);
# SERVER_CPUS and SERVER_WORKERS give it more cores on a bigger machine (e.g. "0,1" and 2, with
# the client on CLIENT_CPUS=2), where one server core cannot serve the rate being measured.
start_server() {
  taskset -c "${SERVER_CPUS:-0}" "${SERVER_BIN:-$BIN}" serve --listen 127.0.0.1:0 \
    --workers "${SERVER_WORKERS:-1}" "$@" >"$WORK/server.out" 2>/dev/null &
  SERVER=$!
  for _ in $(seq 100); do
    URL=$(sed -n 's/^listening on //p' "$WORK/server.out")
    [ -n "$URL" ] && return
    sleep 0.05
  done
  echo "server did not start" >&2; exit 1
}
stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }
