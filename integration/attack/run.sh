#!/usr/bin/env bash
# Attack harness: dnsrr and NSD (if installed) serving the example zone on
# loopback, each tried in turn by integration/attack (main.go) with:
#   tcp-zero  connections that send a zero-length frame every 8 s
#   tcp-idle  connections that sit idle and reconnect when closed
#   tcp-slow  connections that write a query one byte a second
#   admin     idle keep-alive connections to dnsrr's admin API (NSD has none)
#   rewrite   the zone file rewritten in place in chunks while SIGHUPs arrive
# The attacking connections come from many /24s of 127.0.0.0/8; fresh TCP
# queries from 127.0.0.1 run meanwhile. One table row per server and attack.
#
#   integration/attack/run.sh                   # 3000 connections, 15 s holds (about 3 min)
#   integration/attack/run.sh -c 5000 -d 60     # more connections, longer holds
#   integration/attack/run.sh --smoke           # a few seconds: checks the harness works (CI)
#   integration/attack/run.sh --dnsrr BIN       # attack this binary instead of building ./cmd/dnsrr
#   integration/attack/run.sh --only            # dnsrr without NSD
#   integration/attack/run.sh --attacks tcp-idle,rewrite
#   integration/attack/run.sh --extra FILE      # TOML tables appended to dnsrr's config (limits)
#   integration/attack/run.sh --nofile N        # servers' file descriptor limit (default 1024)
#   integration/attack/run.sh -- -by-rename     # anything after -- goes to main.go (go run ./integration/attack -h);
#                                               # -by-rename is the control: versions renamed into place
#
# Columns: fresh TCP queries answered/sent within 3 s and their latency
# (median/max of the answered ones, connect included), admin /status
# requests answered, RSS and fds of the server (children included)
# before/peak during/after, its CPU during the attack (100 = one core), and
# versions of the rewritten zone served with records missing. The servers
# run with 1024 file descriptors (--nofile), so exhausting them shows. Everything it starts is stopped by PID on exit, Ctrl-C
# included. Traffic stays on loopback.
set -euo pipefail

conns=3000 hold=15 probes=20 only=0 dnsrr_bin= extra= nofile=1024
attacks=tcp-zero,tcp-idle,tcp-slow,admin,rewrite
more=()
while [ $# -gt 0 ]; do
  case "$1" in
    -c) conns=$2; shift 2 ;;
    -d) hold=$2; shift 2 ;;
    --smoke) conns=40 hold=1 probes=3
      more+=(-admin-conns 20 -versions 2 -chunks 3 -filler 200 -version-hold 100ms -ramp 1000 -probe-timeout 2s); shift ;;
    --dnsrr) dnsrr_bin=$2; shift 2 ;;
    --only) only=1; shift ;;
    --attacks) attacks=$2; shift 2 ;;
    --extra) extra=$2; shift 2 ;;
    --nofile) nofile=$2; shift 2 ;;
    --) shift; more+=("$@"); break ;;
    -h|--help) sed -n '/^set -euo/q;2,$p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/integration/lib.sh"
NSD=$(command -v nsd || echo /usr/sbin/nsd)
[ -x "$NSD" ] || { [ "$only" = 1 ] || echo "# NSD not installed: dnsrr only (apt-get install nsd)"; only=1; }

start_workdir attack

# The attacker holds a socket per connection; the servers get their own,
# tighter limit (below), as a service usually has.
want=$((conns + 2000))
[ "$(ulimit -Sn)" -ge "$want" ] || ulimit -Sn "$want" 2>/dev/null || ulimit -n "$want"

(cd "$root" && go build -o "$work/attack" ./integration/attack)
if [ -z "$dnsrr_bin" ]; then
  (cd "$root" && go build -o "$work/dnsrr" ./cmd/dnsrr)
  dnsrr_bin=$work/dnsrr
fi

# Each server gets its own directory: the example zone (RFC 1035 twin of
# the TOML example) and the zone the rewrite attack rewrites.
setup_zones() { # dir
  mkdir -p "$1"
  cp "$root/examples/master/lb.example.test.zone" "$1/"
  "$work/attack" -init-zone "$1/rewrite.test.zone" "${more[@]}"
}

wait_ready() { # port pid
  for _ in $(seq 100); do
    if command -v dig >/dev/null; then
      dig +short +tries=1 +time=1 @127.0.0.1 -p "$1" lb.example.test SOA 2>/dev/null | grep -q . && return 0
    else
      sleep 2; return 0
    fi
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "server on port $1 did not answer" >&2; exit 1
}

# attack NAME PORT PID ADMIN DIR [-header]
attack() {
  local name=$1 port=$2 pid=$3 admin=$4 dir=$5; shift 5
  "$work/attack" -name "$name" -dns "127.0.0.1:$port" -pid "$pid" -admin "$admin" \
    -zone-file "$dir/rewrite.test.zone" -attacks "$attacks" \
    -conns "$conns" -hold "${hold}s" -probes "$probes" "$@" "${more[@]}"
}

echo "# $conns attacking connections from $(( conns < 100 ? conns : 100 )) /24s, ${hold}s holds, $probes fresh TCP queries each; servers' fd limit $nofile; $(nproc) cores"

# dnsrr: a minimal config; --extra appends tables (TCP and admin limits).
port=$(free_port) admin_port=$(free_port)
setup_zones "$work/zones-dnsrr"
cat > "$work/zones-dnsrr/dnsrr.toml" <<EOF
listen = ["127.0.0.1:$port"]
zones = ["lb.example.test.zone", "rewrite.test.zone"]

[log]
level = "error"

[health]
admin = "127.0.0.1:$admin_port"
EOF
[ -z "$extra" ] || cat "$extra" >> "$work/zones-dnsrr/dnsrr.toml"
(ulimit -n "$nofile"; exec "$dnsrr_bin" serve -config "$work/zones-dnsrr/dnsrr.toml" 2>"$work/dnsrr.log") &
pid=$!; pids+=("$pid")
wait_ready "$port" "$pid"
attack dnsrr "$port" "$pid" "127.0.0.1:$admin_port" "$work/zones-dnsrr" -header
kill "$pid" 2>/dev/null || true

if [ "$only" = 0 ]; then
  # NSD as Debian ships it, but for response rate limiting: on by default
  # (200 qps per /24), it would throttle the rewrite attack's UDP queries.
  port=$(free_port)
  setup_zones "$work/zones-nsd"
  nsd_config "$work/zones-nsd" "$port" "  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0" lb.example.test rewrite.test > "$work/zones-nsd/nsd.conf"
  (ulimit -n "$nofile"; exec "$NSD" -d -c "$work/zones-nsd/nsd.conf" 2>"$work/nsd.err") &
  pid=$!; pids+=("$pid")
  wait_ready "$port" "$pid"
  attack nsd "$port" "$pid" "" "$work/zones-nsd"
fi
