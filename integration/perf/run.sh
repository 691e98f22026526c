#!/usr/bin/env bash
# Load harness: dnsperf against dnsrr, NSD and gdnsd serving the same zone,
# each pinned to the same single core, dnsperf pinned to another,
# interleaved (dnsrr NSD gdnsd dnsrr NSD gdnsd ...), then a fixed-rate run
# comparing latency.
#
#   integration/perf/run.sh                 # 3 repeats of 10 s, then -Q runs
#   integration/perf/run.sh -r 5 -d 20      # more and longer repeats
#   integration/perf/run.sh --smoke         # 1 s each: checks the harness works (CI)
#   integration/perf/run.sh --against HEAD~3 # adds dnsrr built at that revision
#   integration/perf/run.sh --portable      # adds dnsrr with its portable UDP loop
#   integration/perf/run.sh --only          # dnsrr (and the above) without NSD and gdnsd
#   integration/perf/run.sh --coredns BIN   # adds CoreDNS (file + loadbalance plugins), e.g. built
#                                           # with GOBIN=/tmp go install github.com/coredns/coredns@v1.11.3
#   integration/perf/run.sh --abuse         # every query carries a client cookie, and adds
#                                           # dnsrr-nocookie ([cookies] off) and dnsrr+rrl (rate
#                                           # limiting on, loopback not exempt, a limit never reached):
#                                           # the cost of cookies and RRL per query
#   integration/perf/run.sh --policies      # adds dnsrr with the www pool's answers chosen by
#                                           # max_answers = 2 with weights (dnsrr+subset) and by
#                                           # sticky = "client" (dnsrr+sticky): their cost per query
#
# Prints per run: qps, server CPU µs per answered query (busy time of the
# server's core from /proc/stat / answered queries), the same from the
# server's own processes (/proc/PID/stat user+system time), answered queries
# per busy core-second, mean and p99 latency, lost queries, server RSS; then
# the median ratios of qps per core of dnsrr to each other server.
# Everything it starts is stopped by PID on exit, Ctrl-C included. Traffic
# stays on 127.0.0.1.
set -euo pipefail

repeats=3 duration=10 rate=20000 smoke=0 against= portable=0 only=0 coredns= abuse=0 policies=0
server_cpu=1 client_cpu=0
while [ $# -gt 0 ]; do
  case "$1" in
    -r) repeats=$2; shift 2 ;;
    -d) duration=$2; shift 2 ;;
    -Q) rate=$2; shift 2 ;;
    --smoke) smoke=1; repeats=1; duration=1; rate=2000; shift ;;
    --against) against=$2; shift 2 ;;
    --portable) portable=1; shift ;;
    --only) only=1; shift ;;
    --coredns) coredns=$2; shift 2 ;;
    --abuse) abuse=1; shift ;;
    --policies) policies=1; shift ;;
    -h|--help) sed -n '/^set -euo/q;2,$p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$(nproc)" -lt 2 ]; then server_cpu=0; fi

root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/integration/lib.sh"
need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v nsd >/dev/null || [ -x /usr/sbin/nsd ] || need+=(nsd)
command -v gdnsd >/dev/null || [ -x /usr/sbin/gdnsd ] || need+=(gdnsd)
command -v taskset >/dev/null || need+=(util-linux)
install_missing "${need[@]}"
NSD=$(command -v nsd || echo /usr/sbin/nsd)
GDNSD=$(command -v gdnsd || echo /usr/sbin/gdnsd)

work=$(mktemp -d /tmp/dnsrr-perf.XXXXXX)
pids=()
cleanup() {
  stop_pids "${pids[@]}"
  rm -rf "$work"
  # A --against build interrupted midway leaves git's record of its worktree.
  [ -z "$against" ] || git -C "$root" worktree prune
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$work/dnsrr" "$root/cmd/dnsrr"
if [ -n "$against" ]; then
  rev=$(git -C "$root" rev-parse --short "$against")
  git -C "$root" worktree add -q --detach "$work/src-$rev" "$rev"
  (cd "$work/src-$rev" && go build -o "$work/dnsrr-$rev" ./cmd/dnsrr)
  git -C "$root" worktree remove --force "$work/src-$rev"
fi
zone=$root/examples/master/lb.example.test.zone
cp "$zone" "$work/lb.example.test.zone"

# Queries, generated from the zone: 90 % names and types that exist, each
# (name, type) weighted by its number of records (so pools weigh most, as
# in load-balanced traffic; a wildcard gets a fresh label each time), and
# 10 % names that do not (NXDOMAIN). Names at or below a delegation are the
# child zone's, not ours, and are left out, as is DS (gdnsd's copy lacks it).
awk 'BEGIN { srand(42) }
  /^\$ORIGIN/ { origin = $2; next }
  /^[;$]/ || /^[ \t]/ || NF == 0 { next }
  {
    for (i = 2; i < NF && $i != "IN"; i++) {}
  }
  NR == FNR { if ($(i + 1) == "NS" && $1 != "@") cut[$1] = 1; next }
  {
    for (c in cut) if ($1 == c || substr($1, length($1) - length(c)) == "." c) next
    if ($(i + 1) == "DS") next
    key = $1 " " $(i + 1)
    if (!(key in weight)) order[++n] = key
    weight[key]++; total++
  }
  END {
    for (q = 0; q < 100000; q++) {
      if (rand() < 0.1) { printf "nx%d.%s A\n", int(rand() * 1000000), origin; continue }
      r = rand() * total
      for (k = 1; k < n && r >= weight[order[k]]; k++) r -= weight[order[k]]
      split(order[k], f, " ")
      name = f[1]
      sub(/^\*/, "h" int(rand() * 1000000), name)
      name = (name == "@") ? origin : (name ~ /\.$/ ? name : name "." origin)
      print name, (f[2] == "CNAME" ? "A" : f[2]) # an alias is asked for an address
    }
  }' "$zone" "$zone" > "$work/queries"

port_nsd=$(free_port)
port_gdnsd=$(free_port)

# Debian builds NSD with response rate limiting on (200 qps per /24): one
# loopback client would be rate limited, so turn it off.
nsd_config "$work" "$port_nsd" "  server-count: 1
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0" lb.example.test > "$work/nsd.conf"

# gdnsd: one UDP thread; its zone without the DS record (gdnsd has no
# DNSSEC record types), which no query of the mix asks for.
mkdir -p "$work/gdnsd/zones" "$work/gdnsd/run" "$work/gdnsd/state"
grep -v ' DS ' "$zone" > "$work/gdnsd/zones/lb.example.test"
cat > "$work/gdnsd/config" <<EOF
options => {
  listen => [ 127.0.0.1 ]
  dns_port => $port_gdnsd
  udp_threads => 1
  tcp_threads => 1
  run_dir => $work/gdnsd/run
  state_dir => $work/gdnsd/state
}
EOF

# The servers, in the order they take turns: name, port, pid.
names=() ports=() spids=()
start_dnsrr() { # name binary [env...]
  local name=$1 bin=$2 port; shift 2
  port=$(free_port)
  taskset -c "$server_cpu" env GOMAXPROCS=1 "$@" "$bin" serve -listen "127.0.0.1:$port" \
    -zone "$root/examples/zones/lb.example.test.toml" -log-level warn 2>"$work/$name.log" &
  pids+=($!); names+=("$name"); ports+=("$port"); spids+=($!)
}
start_dnsrr_config() { # name config-tail [zone]: dnsrr with a configuration file
  local name=$1 port zone=${3:-$root/examples/zones/lb.example.test.toml}
  port=$(free_port)
  printf 'listen = ["127.0.0.1:%s"]\nzones = ["%s"]\n[log]\nlevel = "warn"\n[health]\nadmin = ""\n%s\n' \
    "$port" "$zone" "$2" > "$work/$name.toml"
  taskset -c "$server_cpu" env GOMAXPROCS=1 "$work/dnsrr" serve -config "$work/$name.toml" 2>"$work/$name.log" &
  pids+=($!); names+=("$name"); ports+=("$port"); spids+=($!)
}
start_dnsrr dnsrr "$work/dnsrr"
cookie_args=()
if [ "$abuse" = 1 ]; then
  cookie_args=(-e -E 10:0102030405060708)
  start_dnsrr_config dnsrr-nocookie $'[cookies]\nenabled = false'
  start_dnsrr_config dnsrr+rrl $'[rrl]\nresponses_per_second = 100000\nexempt_loopback = false'
fi
if [ "$policies" = 1 ]; then
  # The example zone with policy keys added to its www pool (after its
  # [pools.www] line: the table's own keys).
  mkdir -p "$work/subset" "$work/sticky"
  sed 's/^\[pools\.www\]$/&\nmax_answers = 2\nweights = { "192.0.2.10" = 3 }/' \
    "$root/examples/zones/lb.example.test.toml" > "$work/subset/lb.example.test.toml"
  sed 's/^\[pools\.www\]$/&\nsticky = "client"/' \
    "$root/examples/zones/lb.example.test.toml" > "$work/sticky/lb.example.test.toml"
  start_dnsrr_config dnsrr+subset "" "$work/subset/lb.example.test.toml"
  start_dnsrr_config dnsrr+sticky "" "$work/sticky/lb.example.test.toml"
fi
[ -n "$against" ] && start_dnsrr "dnsrr@$rev" "$work/dnsrr-$rev"
[ "$portable" = 1 ] && start_dnsrr dnsrr-xnet "$work/dnsrr" DNSRR_UDP_IO=portable
if [ -n "$coredns" ]; then
  port_coredns=$(free_port)
  printf 'lb.example.test:%s {\n  bind 127.0.0.1\n  file %s\n  loadbalance\n}\n' "$port_coredns" "$work/lb.example.test.zone" > "$work/Corefile"
  taskset -c "$server_cpu" env GOMAXPROCS=1 "$coredns" -conf "$work/Corefile" >"$work/coredns.log" 2>&1 &
  pids+=($!); names+=(coredns); ports+=("$port_coredns"); spids+=($!)
fi
if [ "$only" = 0 ]; then
  taskset -c "$server_cpu" "$NSD" -d -c "$work/nsd.conf" 2>"$work/nsd.err" &
  pids+=($!); names+=(nsd); ports+=("$port_nsd"); spids+=($!)
  taskset -c "$server_cpu" "$GDNSD" -c "$work/gdnsd" start 2>"$work/gdnsd.err" &
  pids+=($!); names+=(gdnsd); ports+=("$port_gdnsd"); spids+=($!)
fi

wait_ready() { # port
  for _ in $(seq 100); do
    dig +short +tries=1 +time=1 @127.0.0.1 -p "$1" lb.example.test SOA >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server on port $1 did not answer" >&2; exit 1
}
if command -v dig >/dev/null; then
  for p in "${ports[@]}"; do wait_ready "$p"; done
else
  sleep 2
fi

busy_ticks() { awk -v c="cpu$server_cpu" '$1 == c { print $2+$3+$4+$7+$8+$9 }' /proc/stat; }
rss_kb() { # pid
  local total=0 p
  for p in $(family "$1"); do
    total=$((total + $(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo $total
}
hz=$(getconf CLK_TCK)

# run NAME PORT [dnsperf options...]: one dnsperf run, one table row.
run() {
  local name=$1 port=$2 pid=$3; shift 3
  local before after pbefore pafter out
  before=$(busy_ticks); pbefore=$(proc_ticks "$pid")
  out=$(taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries" -l "$duration" -c 4 -v "${cookie_args[@]}" "$@" 2>&1)
  after=$(busy_ticks); pafter=$(proc_ticks "$pid")
  echo "$out" | awk -v name="$name" -v busy=$(( after - before )) -v proc=$(( pafter - pbefore )) -v hz="$hz" -v rss="$(rss_kb "$pid")" '
    /^> / { lat[n++] = $NF * 1000 }
    /Queries completed:/ { done = $3 }
    /Queries lost:/ { lost = $3 }
    /Queries per second:/ { qps = $4 }
    /Average Latency/ { mean = $4 * 1000 }
    END {
      # p99 from the per-query latencies dnsperf -v prints (insertion sort
      # would be slow: bucket at 1 µs instead).
      for (i = 0; i < n; i++) b[int(lat[i] * 1000)]++
      want = n * 0.99; acc = 0; p99 = 0
      for (us = 0; acc < want && us < 10000000; us++) { acc += b[us]; p99 = us / 1000 }
      sec = busy / hz; psec = proc / hz
      printf "%-12s %8.0f %9.2f %8.2f %10.0f %8.3f %8.3f %6d %6.1f\n", name, qps, (done ? sec * 1e6 / done : 0), (done ? psec * 1e6 / done : 0), (sec ? done / sec : 0), mean, p99, lost, rss / 1024
    }'
}

header() { printf "%-12s %8s %9s %8s %10s %8s %8s %6s %6s\n" server qps "us/query" "proc us" qps/core "mean ms" "p99 ms" lost "RSS MB"; }

echo "# ${names[*]}: $(nproc) cores, servers on cpu$server_cpu (GOMAXPROCS=1, NSD server-count 1, gdnsd udp_threads 1), dnsperf on cpu$client_cpu, 4 clients, ${duration}s runs"
echo "## throughput (as fast as dnsperf can send)"
header
for i in $(seq "$repeats"); do
  for j in "${!names[@]}"; do
    run "${names[$j]}" "${ports[$j]}" "${spids[$j]}" | tee -a "$work/rows.${names[$j]}"
  done
done
ratio() { # other server: medians over the pairs of runs of qps per busy core, and of process CPU per query
  paste "$work/rows.dnsrr" "$work/rows.$1" | awk '{ if ($14 && $4) printf "%.4f %.4f\n", $5 / $14, $13 / $4 }' | awk -v o="$1" '
    function median(a, n,   i, j, t) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { c[NR] = $1; p[NR] = $2 }
    END { printf "dnsrr/%s: median ratio of qps per core %.2f, of queries per process CPU second %.2f (over %d pairs)\n", o, median(c, NR), median(p, NR), NR }'
}
for n in "${names[@]:1}"; do ratio "$n"; done

echo "## fixed rate: $rate qps each"
header
for i in $(seq "$repeats"); do
  for j in "${!names[@]}"; do
    run "${names[$j]}" "${ports[$j]}" "${spids[$j]}" -Q "$rate"
  done
done
