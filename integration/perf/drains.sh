#!/usr/bin/env bash
# Health changes under load: DNS latency at a fixed query rate over a zone of
# many pools, first quiet, then while a loop drains and undrains pool members
# through the admin API several times a second (issue 9: each change used to
# recompute every pool and drop every fast-path template).
#
#   integration/perf/drains.sh [-p POOLS] [-Q QPS] [-d SECONDS] [-r CHANGES_PER_S] [--against REV]
#
# Defaults: 100,000 pools of 4 addresses (a master file), 10,000 qps of
# random pool names, 12 s quiet then 12 s with 15 changes a second.
# --against REV runs the same with dnsrr built at that revision first.
# dnsrr runs on one core (GOMAXPROCS=1), dnsperf and the drain loop on the
# other. Everything is on loopback, bounded in time and count.
set -euo pipefail
pools=100000 rate=10000 duration=12 changes=15 against=
while [ $# -gt 0 ]; do
  case "$1" in
    -p) pools=$2; shift 2 ;;
    -Q) rate=$2; shift 2 ;;
    -d) duration=$2; shift 2 ;;
    -r) changes=$2; shift 2 ;;
    --against) against=$2; shift 2 ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
for tool in dnsperf python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install $tool)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/dnsrr-drains.XXXXXX)
pid= drainer=
cleanup() {
  [ -n "$drainer" ] && kill "$drainer" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
server_cpu=1 client_cpu=0
[ "$(nproc)" -lt 2 ] && server_cpu=0

go build -o "$work/dnsrr" "$root/cmd/dnsrr"
bins=("$work/dnsrr")
if [ -n "$against" ]; then
  rev=$(git -C "$root" rev-parse --short "$against")
  mkdir "$work/src-$rev"
  git -C "$root" archive "$rev" | tar -x -C "$work/src-$rev"
  (cd "$work/src-$rev" && go build -o "$work/dnsrr-$rev" ./cmd/dnsrr)
  bins=("$work/dnsrr-$rev" "$work/dnsrr")
fi
awk -v n="$pools" 'BEGIN {
  print "$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1"
  for (i = 0; i < n; i++) for (j = 1; j <= 4; j++) printf "p%d 30 IN A 10.%d.%d.%d\n", i, int(i / 256) % 256, i % 256, j
}' > "$work/big.test.zone"
awk -v n="$pools" 'BEGIN { srand(7); for (i = 0; i < 100000; i++) printf "p%d.big.test A\n", int(rand() * n) }' > "$work/queries"
cat > "$work/dnsrr.toml" <<TOML
listen = ["127.0.0.1:0"]
zones = ["big.test.zone"]
[log]
format = "json"
[health]
admin = "127.0.0.1:0"
TOML
echo "# $pools pools of 4 addresses, $rate qps for ${duration} s quiet, then ${duration} s with $changes drain changes a second"

# latency FILE LABEL: mean, percentiles and worst of the answers dnsperf logged.
latency() {
  grep '^> ' "$1" | awk '{ print $NF * 1000 }' | sort -n | awk -v label="$2" '
    { a[NR] = $1; sum += $1 } END {
    printf "  %-22s mean %.3f ms, p50 %.3f, p99 %.3f, p99.9 %.3f, max %.1f ms (%d answers)\n",
      label, sum / NR, a[int(NR * 0.5)], a[int(NR * 0.99)], a[int(NR * 0.999)], a[NR], NR }'
}

# cpu: the server's user and system time so far, in seconds (/proc/PID/stat):
# less at the mercy of a busy machine than latency is.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat"; }

for bin in "${bins[@]}"; do
  : > "$work/log"
  taskset -c "$server_cpu" env GOMAXPROCS=1 "$bin" serve -config "$work/dnsrr.toml" 2>"$work/log" &
  pid=$!
  for _ in $(seq 1200); do grep -q '"serving"' "$work/log" && break; sleep 0.05; done
  port=$(grep -o '"addrs":\["[^"]*' "$work/log" | head -1 | sed 's/.*://')
  admin=$(grep -o '"admin":"[^"]*' "$work/log" | head -1 | sed 's/.*"//')
  echo "$(basename "$bin"):"
  c0=$(cpu)
  taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries" -l "$duration" -Q "$rate" -c 4 -v > "$work/quiet" 2>&1 || true
  c1=$(cpu)
  latency "$work/quiet" "quiet:"
  awk -v a="$c1" -v b="$c0" 'BEGIN { printf "  server CPU: %.2f s\n", a - b }'
  # The drain loop: drain a random member, then put it back, on a fixed
  # schedule over one keep-alive connection (a process per request cannot
  # keep the pace on a busy machine), at most changes x duration requests.
  taskset -c "$client_cpu" python3 - "$admin" "$changes" "$duration" "$work/changes" <<'PY' &
import http.client, random, sys, time
admin, rate, duration, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
conn = http.client.HTTPConnection(admin, timeout=5)
start, prev, done = time.monotonic(), None, 0
for i in range(rate * duration):
    time.sleep(max(0, start + i / rate - time.monotonic()))
    if prev:
        method, addr, prev = "DELETE", prev, None
    else:
        method = "POST"
        addr = prev = "10.%d.%d.%d" % (random.randrange(256), random.randrange(256), random.randrange(1, 5))
    conn.request(method, "/drain?address=" + addr)
    conn.getresponse().read()
    done += 1
open(out, "w").write("%d\n" % done)
PY
  drainer=$!
  taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries" -l "$duration" -Q "$rate" -c 4 -v > "$work/burst" 2>&1 || true
  c2=$(cpu)
  wait "$drainer" 2>/dev/null || true
  drainer=
  latency "$work/burst" "$(cat "$work/changes" 2>/dev/null || echo "?") drain changes:"
  awk -v a="$c2" -v b="$c1" 'BEGIN { printf "  server CPU: %.2f s\n", a - b }'
  grep -E "Queries lost" "$work/burst" | sed 's/^ */  /'
  kill "$pid"; wait "$pid" 2>/dev/null || true
  pid=
done
