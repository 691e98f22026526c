#!/usr/bin/env bash
# Load cost: how long dnsrr takes to load a large zone, and its peak memory,
# next to NSD's nsd-checkzone on the same file. Three zones:
#
#   mix   a master file of a realistic mix (hosts with A and AAAA, pools,
#         MX, TXT, SRV, CNAME, delegations with glue and DS), ~200 MB
#   wild  1M names beside one wildcard (*.w and nN.w A ...)
#   pools 250k pools of 4 A records (1M records, the zone reload.sh writes)
#
#   integration/perf/loadcost.sh                  # 3 interleaved runs of each
#   integration/perf/loadcost.sh -r 5             # more runs
#   integration/perf/loadcost.sh --smoke          # small zones, 1 run (CI: the harness works)
#   integration/perf/loadcost.sh --only wild      # one zone (repeatable)
#   integration/perf/loadcost.sh --against main   # adds dnsrr built at that revision
#   integration/perf/loadcost.sh --serve          # adds dnsrr serve: time until it logs "serving"
#   MIX_MB=50 WILD_NAMES=200000 POOLS=50000 integration/perf/loadcost.sh   # other sizes
#
# Each run is `dnsrr check -zone F` and `nsd-checkzone ORIGIN F` under
# /usr/bin/time (wall time, peak RSS), interleaved (dnsrr NSD dnsrr NSD ...)
# because the machine may be shared; it prints the medians and the ratios
# dnsrr / NSD. Then, for dnsrr, the deterministic figures that do not
# depend on the machine's load: bytes and objects allocated by a load, and
# the heap still live once the zone is loaded (from the zones package's
# BenchmarkLoadFile). Everything it starts is stopped by PID on exit.
set -euo pipefail

repeats=3 smoke=0 against= serve=0 only=()
mix_mb=${MIX_MB:-200} wild_names=${WILD_NAMES:-1000000} pools=${POOLS:-250000}
while [ $# -gt 0 ]; do
  case "$1" in
    -r) repeats=$2; shift 2 ;;
    --smoke) smoke=1; repeats=1; mix_mb=2; wild_names=20000; pools=5000; shift ;;
    --only) only+=("$2"); shift 2 ;;
    --against) against=$2; shift 2 ;;
    --serve) serve=1; shift ;;
    -h|--help) sed -n '/^set -euo/q;2,$p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#only[@]} -eq 0 ] && only=(mix wild pools)
root=$(cd "$(dirname "$0")/../.." && pwd)
for tool in nsd-checkzone /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install nsd time)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/dnsrr-loadcost.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$work/dnsrr" "$root/cmd/dnsrr"
(cd "$root/zones" && go test -c -o "$work/zones.test" .)
bins=(dnsrr)
if [ -n "$against" ]; then
  mkdir "$work/against"
  git -C "$root" archive "$against" | tar -x -C "$work/against"
  (cd "$work/against" && go build -o "$work/dnsrr-against" ./cmd/dnsrr)
  bins+=(dnsrr-against)
  if grep -q BenchmarkLoadFile "$work/against/zones/scale_test.go" 2>/dev/null; then
    (cd "$work/against/zones" && go test -c -o "$work/zones-against.test" .)
  fi
fi

# mix: per host h$i (about 340 bytes): an address of each family, a pool
# of 2-4 addresses for www, MX, SPF TXT, SRV, a CNAME; every 10th host a
# delegation with two name servers, their glue and a DS.
gen_mix() {
  awk -v units="$(( mix_mb * 1000000 / 336 ))" 'BEGIN {
    print "$ORIGIN mix.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 2024010101 3600 900 1209600 300"
    print "@ IN NS ns1\n@ IN NS ns2\nns1 IN A 192.0.2.1\nns2 IN AAAA 2001:db8::53\n@ IN MX 10 mx"
    print "mx IN A 192.0.2.25"
    for (i = 0; i < units; i++) {
      a = int(i / 65536) % 256; b = int(i / 256) % 256; c = i % 256
      printf "h%d 300 IN A 10.%d.%d.%d\n", i, a, b, c
      printf "h%d 300 IN AAAA 2001:db8:%x:%x::1\n", i, int(i / 65536), i % 65536
      n = 2 + i % 3
      for (j = 1; j <= n; j++) printf "www.h%d 30 IN A 172.%d.%d.%d\n", i, 16 + a % 16, b, (c + j) % 256
      printf "h%d IN MX 10 mail.h%d\nmail.h%d IN A 10.%d.%d.%d\n", i, i, i, a, b, (c + 1) % 256
      printf "h%d IN TXT \"v=spf1 ip4:10.%d.%d.0/24 -all\"\n", i, a, b
      printf "_sip._tcp.h%d IN SRV 10 60 5060 h%d\n", i, i
      printf "alias%d IN CNAME www.h%d\n", i, i
      if (i % 10 == 0) {
        printf "d%d 86400 IN NS ns1.d%d\nd%d 86400 IN NS ns2.d%d\n", i, i, i, i
        printf "ns1.d%d 86400 IN A 10.%d.%d.53\nns2.d%d 86400 IN AAAA 2001:db8:%x::53\n", i, a, b, i, i % 65536
        printf "d%d 86400 IN DS %d 13 2 %064x\n", i, 10000 + i % 50000, i
      }
    }
  }'
}
gen_wild() {
  awk -v n="$wild_names" 'BEGIN {
    print "$ORIGIN wild.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1"
    print "*.w IN A 192.0.2.2"
    for (i = 0; i < n; i++) printf "n%d.w IN A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
  }'
}
gen_pools() {
  awk -v n="$pools" 'BEGIN {
    print "$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1"
    for (i = 0; i < n; i++) for (j = 1; j <= 4; j++) printf "p%d 30 IN A 10.%d.%d.%d\n", i, int(i / 256) % 256, i % 256, j
  }'
}
declare -A origin=([mix]=mix.test [wild]=wild.test [pools]=big.test)
for z in "${only[@]}"; do
  [ -n "${origin[$z]:-}" ] || { echo "unknown zone $z: mix, wild or pools" >&2; exit 2; }
  "gen_$z" > "$work/$z.zone"
  echo "# $z: $(du -h "$work/$z.zone" | cut -f1), $(grep -vc '^\$' "$work/$z.zone") records"
done

# measure NAME CMD...: appends "seconds KB cpu-seconds" to $work/NAME.
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  awk '{ print $1, $2, $3 + $4 }' "$work/t" >> "$work/$name"
}
# serving NAME BIN ZONE: seconds until dnsrr serve logs "serving", and its peak RSS then.
serving() {
  local name=$1 bin=$2 zone=$3 start end
  start=$(date +%s.%N)
  "$work/$bin" serve -zone "$zone" -listen 127.0.0.1:0 -log-format json 2>"$work/log" &
  pid=$!
  for _ in $(seq 6000); do grep -q '"serving"' "$work/log" && break; sleep 0.02; done
  end=$(date +%s.%N)
  grep -q '"serving"' "$work/log" || { cat "$work/log" >&2; exit 1; }
  echo "$(echo "$end - $start" | bc) $(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status") -" >> "$work/$name"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}
for r in $(seq "$repeats"); do
  for z in "${only[@]}"; do
    for b in "${bins[@]}"; do
      measure "$z.$b" "$work/$b" check -zone "$work/$z.zone"
      [ "$serve" = 1 ] && serving "$z.$b-serve" "$b" "$work/$z.zone"
    done
    measure "$z.nsd" nsd-checkzone "${origin[$z]}" "$work/$z.zone"
  done
  echo "# run $r of $repeats done" >&2
done

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
# Wall time is what a user waits; CPU time (user + system) is steadier on
# a loaded machine. dnsrr parses large files on every core, NSD on one.
printf "\n%-6s %-22s %8s %8s %8s %9s %9s %9s\n" zone loader "time s" "cpu s" "peak MB" "time/NSD" "cpu/NSD" "mem/NSD"
for z in "${only[@]}"; do
  nt=$(cut -d' ' -f1 "$work/$z.nsd" | median) nm=$(cut -d' ' -f2 "$work/$z.nsd" | median)
  nc=$(cut -d' ' -f3 "$work/$z.nsd" | median)
  printf "%-6s %-22s %8.2f %8.2f %8.0f\n" "$z" nsd-checkzone "$nt" "$nc" "$(echo "$nm / 1024" | bc -l)"
  for b in "${bins[@]}"; do
    for k in "$b" "$b-serve"; do
      [ -f "$work/$z.$k" ] || continue
      t=$(cut -d' ' -f1 "$work/$z.$k" | median) m=$(cut -d' ' -f2 "$work/$z.$k" | median)
      label="${k/dnsrr-serve/dnsrr serve}"; [ "$k" = dnsrr ] && label="dnsrr check"
      if [ "$(cut -d' ' -f3 "$work/$z.$k" | head -1)" = - ]; then
        printf "%-6s %-22s %8.2f %8s %8.0f %8.2fx %9s %8.2fx\n" "$z" "$label" "$t" - "$(echo "$m / 1024" | bc -l)" \
          "$(echo "$t / $nt" | bc -l)" - "$(echo "$m / $nm" | bc -l)"
      else
        c=$(cut -d' ' -f3 "$work/$z.$k" | median)
        printf "%-6s %-22s %8.2f %8.2f %8.0f %8.2fx %8.2fx %8.2fx\n" "$z" "$label" "$t" "$c" "$(echo "$m / 1024" | bc -l)" \
          "$(echo "$t / $nt" | bc -l)" "$(echo "$c / $nc" | bc -l)" "$(echo "$m / $nm" | bc -l)"
      fi
    done
  done
done

echo
echo "dnsrr, per load (deterministic): allocated, objects, live heap after load"
for z in "${only[@]}"; do
  for t in zones zones-against; do
    [ -x "$work/$t.test" ] || continue
    DNSRR_LOAD_FILE="$work/$z.zone" "$work/$t.test" -test.run '^$' -test.bench '^BenchmarkLoadFile$' \
      -test.benchtime 1x -test.benchmem | awk -v z="$z" -v t="${t/zones/dnsrr}" '/^BenchmarkLoadFile/ {
        for (i = 1; i < NF; i++) { if ($(i+1) == "B/op") b = $i; if ($(i+1) == "allocs/op") o = $i; if ($(i+1) == "live-MB") l = $i }
        printf "%-6s %-14s %8.0f MB allocated, %10d objects, %6.0f MB live\n", z, t, b / 1048576, o, l }'
  done
done
