#!/usr/bin/env bash
# /status on a huge zone: time and bytes of GET /status (the default page
# and a few filters) on a zone of 200k pools x 4 addresses, loopback only.
#
#   integration/perf/admin_status.sh [-p POOLS] [-b BINARY]
#
# -b measures another build (say, one of an older revision) instead of
# building this tree's.
set -euo pipefail
pools=200000 bin=
while [ $# -gt 0 ]; do
  case "$1" in
    -p) pools=$2; shift 2 ;;
    -b) bin=$2; shift 2 ;;
    *) sed -n '2,8p' "$0"; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/dnsrr-admin-status.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ -z "$bin" ]; then bin=$work/dnsrr; go build -o "$bin" "$root/cmd/dnsrr"; fi
awk -v n="$pools" 'BEGIN {
  print "$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1"
  for (i = 0; i < n; i++) for (j = 1; j <= 4; j++) printf "p%d 30 IN A 10.%d.%d.%d\n", i, int(i / 256) % 256, i % 256, j
}' > "$work/big.test.zone"
printf 'zones = ["big.test.zone"]\nlisten = ["127.0.0.1:0"]\n[health]\nadmin = "127.0.0.1:0"\n' > "$work/dnsrr.toml"
"$bin" serve -config "$work/dnsrr.toml" -log-format json 2>"$work/log" &
pid=$!
for _ in $(seq 1200); do grep -q '"serving"' "$work/log" && break; sleep 0.05; done
admin=$(grep -o '"admin":"[^"]*' "$work/log" | head -1 | sed 's/"admin":"//')
echo "# $pools pools of 4 addresses; $("$bin" version)"
printf "%-40s %6s %12s %8s\n" request code bytes seconds
for q in "/status" "/status?limit=100" "/status?pool=p4711.big.test" "/status?address=10.1.2.3" \
         "/status?limit=1000&after=p199000.big.test."; do
  # Best of 3: the machine is shared (the build before paging took 10-30 s
# per request here).
  best=
  for _ in 1 2 3; do
    out=$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}' --max-time 120 "http://$admin$q")
    t=${out##* }
    if [ -z "$best" ] || [ "$(echo "$t < ${best##* }" | bc)" = 1 ]; then best=$out; fi
  done
  printf "%-40s %6s %12s %8s\n" "$q" $best
done
# A drain checks membership by scanning the pools: time it for a member
# and for an address in no pool (a full scan), then undo the drain.
for a in "10.13.63.4" "203.0.113.1"; do
  out=$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}' --max-time 60 -X POST "http://$admin/drain?address=$a")
  printf "%-40s %6s %12s %8s\n" "POST /drain?address=$a" $out
  curl -s -o /dev/null -X DELETE "http://$admin/drain?address=$a"
done
printf "peak RSS %d MB\n" $(( $(awk '$1 == "VmHWM:" { print $2 }' /proc/$pid/status) / 1024 ))
