#!/usr/bin/env bash
# Soak: dnsrr under everything at once for DURATION, every answer checked
# (integration/perf/soak/main.go says what runs and what is checked).
#
#   integration/perf/soak.sh [-d DURATION] [-Q QPS] [-r REPORT_EVERY] [-R RRL_RATE]
#
# Defaults: -d 30s -Q 2000 -r 1m -R 5000. -R sets [rrl] responses_per_second:
# the default never limits this load; below the rate per name (about
# QPS/7), UDP queries without a server cookie are dropped or slipped, and
# those over TCP or with a server cookie must still all be answered.
# A figure line every REPORT_EVERY (RSS, threads, open files of dnsrr;
# queries, reloads, drains so far), then a summary; exit 1 if any answer
# was wrong, a reload misbehaved, the log showed a panic or an error, or
# open files grew. Backends listen on
# 127.0.0.11-.14, .21-.23 and .30 (Linux routes all of 127/8 to lo).
# KEEP=1 keeps the work directory (config, zones, dnsrr's log).
set -euo pipefail
duration=30s rate=2000 report=1m rrl=5000
while [ $# -gt 0 ]; do
  case "$1" in
    -d) duration=$2; shift 2 ;;
    -Q) rate=$2; shift 2 ;;
    -r) report=$2; shift 2 ;;
    -R) rrl=$2; shift 2 ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/dnsrr-soak.XXXXXX)
driver=
cleanup() {
  [ -n "$driver" ] && kill "$driver" 2>/dev/null && wait "$driver" 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "# kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
go build -o "$work/dnsrr" "$root/cmd/dnsrr"
go build -o "$work/soak" "$root/integration/perf/soak"
mkdir "$work/run"
# In the background and waited for, so that a Ctrl-C reaches the trap,
# which stops the driver; the driver stops dnsrr and its backends.
"$work/soak" -dnsrr "$work/dnsrr" -d "$duration" -qps "$rate" -report "$report" -rrl "$rrl" -work "$work/run" &
driver=$!
status=0
wait "$driver" || status=$?
driver=
if [ "$status" != 0 ]; then
  echo "# dnsrr's last log lines:" >&2
  tail -n 20 "$work/run/dnsrr.log" >&2 || true
fi
exit "$status"
