# Shell helpers shared by the harnesses under integration/ (source it).

# stop_pids PID...: SIGTERM each, give each 5 s to exit, then SIGKILL.
stop_pids() {
  local p
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_workdir NAME: work becomes a fresh /tmp/dnsrr-NAME.XXXXXX and pids an
# empty list; on exit (Ctrl-C included) every PID in pids is stopped and
# work removed.
start_workdir() {
  work=$(mktemp -d "/tmp/dnsrr-$1.XXXXXX")
  pids=()
  trap 'stop_pids "${pids[@]}"; rm -rf "$work"' EXIT
  trap 'exit 130' INT TERM
}
