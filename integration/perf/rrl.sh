#!/usr/bin/env bash
# Response rate limiting harness: the same bounded loopback flood of one
# name against dnsrr (without and with [rrl]), NSD (rrl-ratelimit) and Knot
# (mod-rrl, with mod-cookies), each with the same settings: 20 responses
# per second, slip 2, /24 (IPv4) and /56 (IPv6) prefixes, loopback not
# exempt. The flood (integration/perf/flood) comes from 4 addresses of one
# /24 (spoofed victims) and asks, with EDNS 1232, for:
#   www     www.lb.example.test A: a pool of 3 in the example zone
#   pool70  a name with 70 A records (added to the example zone), which
#           reflects the most that fits in 1232 bytes
#   cookies pool70 again, each source doing the DNS cookie handshake first
#           and then sending its valid server cookie (exempt from RRL where
#           the server supports it; "n/a" where it has no cookies)
#   tcp     pool70 over one TCP connection per source (never limited)
# Each test floods from a /24 of its own, so buckets start empty.
#
#   integration/perf/rrl.sh                  # 10 s floods at 20,000 qps
#   integration/perf/rrl.sh -d 20 -Q 30000   # longer, faster
#   integration/perf/rrl.sh --limit 200      # another rate limit (NSD's default)
#   integration/perf/rrl.sh --smoke          # 1 s floods at 2,000 qps: checks the harness works (CI)
#   integration/perf/rrl.sh --only           # dnsrr without NSD and Knot
#   integration/perf/rrl.sh --dnsrr BIN      # this binary instead of building ./cmd/dnsrr
#
# Columns: queries sent and the rate reached; replies by kind (full,
# truncated = empty with TC set, the question echoed, other); dropped =
# no reply (in brackets: of those, dropped at the server's full socket
# buffer, i.e. never seen by it, not rate limited); bytes out / bytes in
# (DNS messages, no framing); the server's CPU (user+system of its
# processes, /proc/PID/stat) per query sent, in microseconds. The server
# runs on one core (GOMAXPROCS=1, NSD server-count 1, Knot 1 UDP and 1 TCP
# worker), the flood on another. Everything it starts is stopped by PID on
# exit, Ctrl-C included. Traffic stays on 127.0.0.0/8.
set -euo pipefail

duration=10 rate=20000 limit=20 slip=2 sources=4 only=0 dnsrr_bin=
server_cpu=1 client_cpu=0
while [ $# -gt 0 ]; do
  case "$1" in
    -d) duration=$2; shift 2 ;;
    -Q) rate=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --slip) slip=$2; shift 2 ;;
    --sources) sources=$2; shift 2 ;;
    --smoke) duration=1; rate=2000; shift ;;
    --only) only=1; shift ;;
    --dnsrr) dnsrr_bin=$2; shift 2 ;;
    -h|--help) sed -n '/^set -euo/q;2,$p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$(nproc)" -lt 2 ]; then server_cpu=0; fi

root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/integration/lib.sh"
need=()
command -v dig >/dev/null || need+=(dnsutils)
command -v taskset >/dev/null || need+=(util-linux)
if [ "$only" = 0 ]; then
  command -v nsd >/dev/null || [ -x /usr/sbin/nsd ] || need+=(nsd)
  command -v knotd >/dev/null || [ -x /usr/sbin/knotd ] || need+=(knot)
fi
install_missing "${need[@]}"
NSD=$(command -v nsd || echo /usr/sbin/nsd)
KNOTD=$(command -v knotd || echo /usr/sbin/knotd)

start_workdir rrl

(cd "$root" && go build -o "$work/flood" ./integration/perf/flood)
if [ -z "$dnsrr_bin" ]; then
  (cd "$root" && go build -o "$work/dnsrr" ./cmd/dnsrr)
  dnsrr_bin=$work/dnsrr
fi

# The example zone as a master file (every server reads it), plus pool70.
zone=$work/lb.example.test.zone
cp "$root/examples/master/lb.example.test.zone" "$zone"
for i in $(seq 70); do echo "pool70            30 IN A     198.18.0.$i"; done >> "$zone"

wait_ready() { # port pid
  for _ in $(seq 100); do
    dig +short +tries=1 +time=1 @127.0.0.1 -p "$1" lb.example.test SOA 2>/dev/null | grep -q . && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "server on port $1 did not answer" >&2; exit 1
}

hz=$(getconf CLK_TCK)
test_no=0
# flood SERVER PORT PID TEST [flood flags...]: one table row.
flood() {
  local server=$1 port=$2 pid=$3 test=$4 before after out
  shift 4
  test_no=$((test_no + 1))
  before=$(proc_ticks "$pid")
  if ! out=$(taskset -c "$client_cpu" "$work/flood" -server "127.0.0.1:$port" -rate "$rate" -duration "${duration}s" \
      -sources "$sources" -source-base "127.0.$test_no.10" -kv "$@" 2>&1); then
    printf "%-14s %-8s %s\n" "$server" "$test" "n/a: ${out##*flood: }"
    return
  fi
  after=$(proc_ticks "$pid")
  echo "$out" | awk -v server="$server" -v test="$test" -v ticks=$((after - before)) -v hz="$hz" '
    {
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "%-14s %-8s %8d %7.0f %8d %8d %8d %-10s %6d %7.2f %8.2f\n", server, test, v["sent"], v["qps"],
        v["full"], v["truncated"], v["dropped"], "(" v["server_drops"] ")", v["other"], v["ratio"],
        (v["sent"] ? ticks / hz * 1e6 / v["sent"] : 0)
    }'
}

# tests SERVER PORT PID: the four floods against one server.
tests() {
  flood "$@" www -name www.lb.example.test.
  flood "$@" pool70 -name pool70.lb.example.test.
  flood "$@" cookies -name pool70.lb.example.test. -cookies
  flood "$@" tcp -name pool70.lb.example.test. -tcp -drain 10s # a server behind catches up: TCP is never dropped
}

echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); servers on cpu$server_cpu, the flood on cpu$client_cpu"
echo "# flood: ${rate} qps for ${duration} s from $sources addresses of one /24; RRL: $limit responses/s, slip $slip, /24 and /56, loopback not exempt"
printf "%-14s %-8s %8s %7s %8s %8s %8s %-10s %6s %7s %8s\n" server test sent qps full trunc dropped "(at sock)" other "out/in" "CPU us/q"

# dnsrr twice: without RRL (the baseline), then with [rrl] if this
# binary has it.
dnsrr_config() { # port [rrl]
  cat <<EOF
listen = ["127.0.0.1:$1"]
zones = ["lb.example.test.zone"]

[log]
level = "warn"

[health]
admin = ""
EOF
  [ "${2:-}" = rrl ] || return 0
  cat <<EOF

[rrl]
responses_per_second = $limit
window = "15s"
slip = $slip
ipv4_prefix_length = 24
ipv6_prefix_length = 56
exempt_loopback = false
EOF
}
run_dnsrr() { # name [rrl]
  local port pid
  port=$(free_port)
  dnsrr_config "$port" "${2:-}" > "$work/dnsrr.toml"
  if ! "$dnsrr_bin" check -config "$work/dnsrr.toml" >"$work/check.out" 2>&1; then
    printf "%-14s %s\n" "$1" "n/a: $(grep -m1 -i 'rrl\|error' "$work/check.out" || true)"
    return
  fi
  taskset -c "$server_cpu" env GOMAXPROCS=1 "$dnsrr_bin" serve -config "$work/dnsrr.toml" 2>"$work/$1.log" &
  pid=$!; pids+=("$pid")
  wait_ready "$port" "$pid"
  tests "$1" "$port" "$pid"
  stop_pids "$pid"
}
run_dnsrr "dnsrr, no RRL"
run_dnsrr "dnsrr RRL" rrl

[ "$only" = 1 ] && exit 0

port=$(free_port)
nsd_config "$work" "$port" "  server-count: 1
  rrl-ratelimit: $limit
  rrl-whitelist-ratelimit: $limit
  rrl-slip: $slip
  rrl-ipv4-prefix-length: 24
  rrl-ipv6-prefix-length: 56" lb.example.test > "$work/nsd.conf"
taskset -c "$server_cpu" "$NSD" -d -c "$work/nsd.conf" 2>"$work/nsd.err" &
pid=$!; pids+=("$pid")
wait_ready "$port" "$pid"
tests "NSD RRL" "$port" "$pid"
stop_pids "$pid"

# Knot: mod-rrl's prefixes are fixed at /24 and /56; mod-cookies makes
# queries with a valid server cookie pass the limiter.
port=$(free_port)
mkdir -p "$work/knot"
cat > "$work/knot.conf" <<EOF
server:
  listen: 127.0.0.1@$port
  rundir: "$work/knot"
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
database:
  storage: "$work/knot"
log:
  - target: stderr
    any: warning
mod-rrl:
  - id: flood
    rate-limit: $limit
    slip: $slip
mod-cookies:
  - id: flood
template:
  - id: default
    storage: "$work"
    global-module: [ mod-cookies/flood, mod-rrl/flood ]
zone:
  - domain: lb.example.test
    file: lb.example.test.zone
EOF
taskset -c "$server_cpu" "$KNOTD" -c "$work/knot.conf" 2>"$work/knot.err" &
pid=$!; pids+=("$pid")
wait_ready "$port" "$pid"
tests "Knot RRL" "$port" "$pid"
stop_pids "$pid"
