#!/usr/bin/env bash
# What recursive resolvers do to the order of a pool, and the spread of the
# addresses their clients get: Unbound (rrset-roundrobin yes and no), BIND
# (named) and Knot Resolver (kresd, reorder_RR true and false), each with its
# own cache, resolve a pool of 8 addresses through a fake root (NSD) that
# delegates lb.example.test. to dnsrr. Clients count which address comes
# first and which addresses each answer holds, within one TTL and across
# TTLs, for the whole pool and for max_answers = 2, each also with one member
# weighing 5, and for a sticky pool with max_answers = 2. Prints a table per
# resolver and pool, then summaries (the README's "What caches do to order").
#
#   integration/perf/resolvers.sh                  # 5 resolvers of each kind, 50 clients each
#   integration/perf/resolvers.sh -k 3 -c 20 -q 5 -r 6   # the sizes go test uses
#   integration/perf/resolvers.sh --only unbound,kresd-sorted
#
#   -k N   resolvers of each kind (default 5)
#   -c N   clients per resolver, each from a port of its own (default 50)
#   -q N   queries per client within one TTL (default 10)
#   -r N   TTL periods across TTLs, one query per client in each (default 20, 2 s each)
#   --only KINDS   comma-separated: unbound, unbound-fixed, named, kresd, kresd-sorted
#
# It runs TestResolverSpread (integration/spread_linux_test.go) with these
# sizes. Everything runs in a network namespace of its own with only a
# loopback interface (root needed): nothing can reach beyond the machine,
# and ports 53 of the namespace collide with nothing. Every process is
# stopped by its PID when the test ends. A few minutes with the defaults
# (2.5 on the shared 2-core machine), mostly waiting for TTLs.
set -euo pipefail

kinds=all resolvers=5 clients=50 queries=10 rounds=20
while [ $# -gt 0 ]; do
  case "$1" in
    -k) resolvers=$2; shift 2 ;;
    -c) clients=$2; shift 2 ;;
    -q) queries=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    --only) kinds=$2; shift 2 ;;
    -h|--help) sed -n '/^set -euo/q;2,$p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ]; then echo "needs root: the resolvers run in a network namespace of their own" >&2; exit 1; fi
need=()
for p in unbound:unbound named:bind9 kresd:knot-resolver nsd:nsd; do
  command -v "${p%%:*}" >/dev/null || [ -x "/usr/sbin/${p%%:*}" ] || need+=("${p#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  # Where services may start, the packages start theirs; this needs none.
  for service in unbound named kresd@1 nsd; do invoke-rc.d "$service" stop >/dev/null 2>&1 || true; done
fi

report=$(mktemp /tmp/dnsrr-resolvers.XXXXXX)
trap 'rm -f "$report" "$report.log"' EXIT
cd "$root"
# The test's own time bound: the phase across TTLs takes rounds × 2-3 s.
DNSRR_RESOLVERS=$kinds DNSRR_SPREAD_RESOLVERS=$resolvers DNSRR_SPREAD_CLIENTS=$clients \
  DNSRR_SPREAD_QUERIES=$queries DNSRR_SPREAD_ROUNDS=$rounds DNSRR_SPREAD_REPORT=$report \
  go test ./integration -run '^TestResolverSpread$' -count=1 -timeout 15m >"$report.log" 2>&1 || {
  grep -v '"level"' "$report.log" | tail -40 >&2
  rm -f "$report.log"
  exit 1
}
[ -s "$report" ] || { echo "the test wrote no report:" >&2; grep -v '"level"' "$report.log" | tail -40 >&2; exit 1; }
rm -f "$report.log"
cat "$report"
