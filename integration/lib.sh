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

# family PID: the process and its descendants (NSD runs xfrd > main > server).
family() {
  local c
  echo "$1"
  for c in $(pgrep -P "$1" || true); do family "$c"; done
}

# proc_ticks PID: user+system CPU time, in clock ticks (getconf CLK_TCK), of
# the process and its descendants, all threads.
proc_ticks() {
  local total=0 p
  for p in $(family "$1"); do
    total=$((total + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0)))
  done
  echo $total
}

# nsd_config DIR PORT SERVER_LINES ZONE...: prints an NSD configuration for
# NSD run in the foreground (nsd -d) as the current user on 127.0.0.1@PORT,
# its state in DIR, serving each ZONE from DIR/ZONE.zone. SERVER_LINES are
# more "server:" options, one per line, indented by two spaces.
nsd_config() {
  local dir=$1 port=$2 server=$3 z
  shift 3
  cat <<EOF
server:
  ip-address: 127.0.0.1@$port
  username: ""
  chroot: ""
  zonesdir: "$dir"
  database: ""
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  pidfile: "$dir/nsd.pid"
  logfile: "$dir/nsd.log"
  verbosity: 0
$server
remote-control:
  control-enable: no
EOF
  for z in "$@"; do printf 'zone:\n  name: %s\n  zonefile: %s.zone\n' "$z" "$z"; done
}

# install_missing PKG...: installs these Debian packages with apt-get when
# root, or exits naming them. Nothing to do without arguments.
install_missing() {
  [ $# -gt 0 ] || return 0
  if [ "$(id -u)" != 0 ]; then echo "missing $*: install them (apt-get install $*)" >&2; exit 1; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
