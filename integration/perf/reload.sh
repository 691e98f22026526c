#!/usr/bin/env bash
# Scale and reload: a zone of 250k pools x 4 addresses (1M records) as an
# RFC 1035 file, how long dnsrr takes to load it and its RSS, then latency
# at a fixed query rate while the zone is reloaded twice (SIGHUP).
#
#   integration/perf/reload.sh [-p POOLS] [-Q QPS] [-d SECONDS] [-2]
#
# NAMES=1000 in the environment makes the queries ask for the first 1000
# pools only (by default they ask for any of them).
#
# dnsrr runs pinned to one core with GOMAXPROCS=1 (the reload competes with
# answering on that core, the worst case) and dnsperf on the other; with -2
# dnsrr has both cores (GOMAXPROCS=2), as a server normally would.
# DNSRR_ENV="GOGC=200" passes settings to dnsrr's environment.
set -euo pipefail
pools=250000 rate=20000 duration=20 procs=1
while [ $# -gt 0 ]; do
  case "$1" in
    -p) pools=$2; shift 2 ;;
    -Q) rate=$2; shift 2 ;;
    -d) duration=$2; shift 2 ;;
    -2) procs=2; shift ;;
    *) sed -n '2,14p' "$0"; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v dnsperf >/dev/null; then
  if [ "$(id -u)" != 0 ]; then echo "dnsperf is missing (apt-get install dnsperf)" >&2; exit 1; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dnsperf >/dev/null
fi
work=$(mktemp -d /tmp/dnsrr-reload.XXXXXX)
pid= reloader=
cleanup() {
  # The reloader first: it must not signal a PID the system has reused.
  [ -n "$reloader" ] && kill "$reloader" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
server_cpu=1; [ "$(nproc)" -lt 2 ] && server_cpu=0
[ "$procs" = 2 ] && server_cpu=0,1

go build -o "$work/dnsrr" "$root/cmd/dnsrr"
awk -v n="$pools" 'BEGIN {
  print "$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1"
  for (i = 0; i < n; i++) for (j = 1; j <= 4; j++) printf "p%d 30 IN A 10.%d.%d.%d\n", i, int(i / 256) % 256, i % 256, j
}' > "$work/big.test.zone"
awk -v n="$pools" 'BEGIN { srand(7); for (i = 0; i < 100000; i++) {
  if (rand() < 0.1) printf "nx%d.big.test A\n", i; else printf "p%d.big.test A\n", int(rand() * (ENVIRON["NAMES"] ? ENVIRON["NAMES"] : n)) } }' > "$work/queries"
echo "# $pools pools, $((pools * 4)) address records, $(du -h "$work/big.test.zone" | cut -f1) master file; dnsrr on cpu $server_cpu, GOMAXPROCS=$procs"

start=$(date +%s.%N)
taskset -c "$server_cpu" env GOMAXPROCS="$procs" ${DNSRR_ENV:-} "$work/dnsrr" serve -zone "$work/big.test.zone" \
  -listen 127.0.0.1:0 -log-format json 2>"$work/log" &
pid=$!
for _ in $(seq 600); do grep -q '"serving"' "$work/log" && break; sleep 0.05; done
end=$(date +%s.%N)
addr=$(grep -o '"addrs":\["[^"]*' "$work/log" | head -1 | sed 's/.*\["//')
port=${addr##*:}
rss() { echo $(( $(awk -v f="$1:" '$1 == f { print $2 }' /proc/$pid/status) / 1024 )); }
printf "load to serving: %.2f s, RSS %d MB (peak so far %d MB)\n" "$(echo "$end - $start" | bc)" "$(rss VmRSS)" "$(rss VmHWM)"

( sleep "$(( duration / 4 ))"; kill -HUP "$pid"; sleep "$(( duration / 2 ))"; kill -HUP "$pid" ) &
reloader=$!
taskset -c 0 dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries" -l "$duration" -Q "$rate" -c 4 -v > "$work/out" 2>&1 || true
wait "$reloader"
sleep 1
grep -E "Queries (sent|completed|lost)" "$work/out"
grep '^> ' "$work/out" | awk '{ print $NF * 1000 }' | sort -n | awk '{ a[NR] = $1 } END {
  printf "latency at %s qps with 2 reloads: p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms (%d answers)\n",
    "'"$rate"'", a[int(NR * 0.5)], a[int(NR * 0.99)], a[int(NR * 0.999)], a[NR], NR }'
# Where the slow answers fall: the worst latency of each half second (in
# order of completion; at a fixed rate that is time), marked where reloads
# were asked for.
grep '^> ' "$work/out" | awk -v rate="$rate" -v d="$duration" '
  { w = int((NR - 1) / (rate / 2)); if ($NF * 1000 > m[w]) m[w] = $NF * 1000 }
  END { printf "worst per 0.5 s:"; for (i = 0; i in m; i++) printf "%s%.1f", ((i == int(d / 4 * 2) || i == int(d * 3 / 4 * 2)) ? " |" : " "), m[i]; print " ms (| = SIGHUP)" }'
grep '"reload applied"' "$work/log" | grep -o '"duration":[0-9.]*' | sed 's/"duration":/reload took /; s/$/ s/'
printf "RSS after reloads: %d MB; 10 s later: " "$(rss VmRSS)"
sleep 10
printf "%d MB; peak %d MB\n" "$(rss VmRSS)" "$(rss VmHWM)"
