#!/usr/bin/env bash
# ISC's DNS compliance tester (genreport, the program behind
# ednscomp.isc.org) against the real dnsrr binary on loopback, serving the
# example zone over 127.0.0.1 and ::1 (when the host has IPv6):
#   dnsrr       cookies on (the default) and nsid set
#   dnsrr+rrl   the same, rate limiting the tester itself: 1 response a
#               second, slip 1, loopback not exempt, so limited replies
#               (TC, BADCOOKIE) are judged too
# each with the test groups EDNS, FULL and COMMON (-f -c), TYPE (-t) and
# the explicit test dnswkk (-i dnswkk). It prints genreport's lines and
# exits 1 if a test is not ok, apart from the documented exception
# (README, "Compliance"): dnswkk=notauth,badkey. It also checks that the
# cookie and NSID tests saw our COOKIE and NSID.
#
#   integration/compliance.sh               # dnsrr (about 10 s)
#   integration/compliance.sh --reference   # also NSD and Knot on the same zone, with and
#                                           # without their rate limiting (printed, not judged)
#   integration/compliance.sh --dnsrr BIN   # test this binary instead of building ./cmd/dnsrr
#
# genreport is not built here. It comes from
# https://github.com/isc-projects/DNS-Compliance-Testing (build it as its
# README says); the script uses $GENREPORT, else genreport on PATH, else
# $GENREPORT_DIR/genreport (default /tmp/dnsrr-genreport). Without it the
# script says so and exits 77 (skipped). Everything it starts is stopped
# by PID on exit, Ctrl-C included. Traffic stays on loopback.
set -euo pipefail

reference=0 dnsrr_bin=
while [ $# -gt 0 ]; do
  case "$1" in
    --reference) reference=1; shift ;;
    --dnsrr) dnsrr_bin=$2; shift 2 ;;
    -h|--help) sed -n '/^set -euo/q;2,$p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/integration/lib.sh"

genreport=${GENREPORT:-}
if [ -z "$genreport" ]; then
  genreport=$(command -v genreport || echo "${GENREPORT_DIR:-/tmp/dnsrr-genreport}/genreport")
fi
if [ ! -x "$genreport" ]; then
  echo "compliance: skipped: no genreport at $genreport (set GENREPORT; see --help)" >&2
  exit 77
fi
command -v dig >/dev/null || { echo "compliance: needs dig (apt-get install dnsutils)" >&2; exit 1; }

start_workdir compliance

if [ -z "$dnsrr_bin" ]; then
  dnsrr_bin=$work/dnsrr
  go build -o "$dnsrr_bin" "$root/cmd/dnsrr"
fi

zone=lb.example.test
addrs=(127.0.0.1)
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
  addrs+=(::1)
fi
listen() { # port: the TOML list of our addresses
  local a out=
  for a in "${addrs[@]}"; do
    [ "$a" = ::1 ] && a="[::1]"
    out+="${out:+, }\"$a:$1\""
  done
  echo "[$out]"
}

wait_ready() { # port
  for _ in $(seq 100); do
    dig +short +tries=1 +time=1 @127.0.0.1 -p "$1" "$zone" SOA >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "compliance: server on port $1 did not answer" >&2; exit 1
}

# start_dnsrr NAME CONFIG-TAIL: dnsrr on a free port; sets port.
start_dnsrr() {
  port=$(free_port)
  printf 'listen = %s\nzones = ["%s"]\nnsid = "%s"\n[log]\nlevel = "warn"\n[health]\nadmin = ""\n%s\n' \
    "$(listen "$port")" "$root/examples/zones/$zone.toml" "$1" "$2" > "$work/$1.toml"
  "$dnsrr_bin" serve -config "$work/$1.toml" 2>"$work/$1.log" &
  pids+=($!)
  wait_ready "$port"
}

# run NAME PORT: every test group against every address; the lines go to
# stdout and to $work/NAME.out.
run() {
  local name=$1 port=$2 a mode input=
  for a in "${addrs[@]}"; do input+="$zone ns1 $a"$'\n'; done
  echo "## $name"
  for mode in "-f -c" "-t" "-i dnswkk"; do
    # shellcheck disable=SC2086 # mode is several options
    printf '%s' "$input" | timeout 120 "$genreport" -P "$port" -n $mode | tee -a "$work/$name.out"
  done
}

# judge NAME: every test ok but the documented exception, one line per
# address and group, our COOKIE and NSID seen; prints what is wrong.
judge() {
  awk -v lines=$((3 * ${#addrs[@]})) -v name="$1" '
    { n++; sub(/ \([^)]*\)$/, "") } # the NSID genreport prints last
    {
      for (i = 4; i <= NF; i++) {
        split($i, kv, "=")
        test = kv[1]; result = substr($i, length(test) + 2)
        tests++
        if (result !~ /^ok(,|$)/ && $i != "dnswkk=notauth,badkey") { print name " " $2 " " $i ": not ok"; bad++ }
        # A slipped reply (BADCOOKIE under rate limiting) carries no NSID, by
        # design: a slip is no larger than the query but for the cookie.
        if (test ~ /^(optlist|ednsnsid)$/ && result !~ /,nsid(,|$)/ && result !~ /badcookie/) { print name " " $2 " " $i ": no NSID"; bad++ }
        if (test ~ /^(optlist|ednscookie|bind11|dig11)$/ && result !~ /,cookie(\+badcookie)?(,|$)/) { print name " " $2 " " $i ": no COOKIE"; bad++ }
      }
    }
    END {
      if (n != lines) { print name ": " n " report lines, want " lines; bad++ }
      if (bad) exit 1
      print name ": " tests " results ok (dnswkk=notauth,badkey expected)"
    }' "$work/$1.out"
}

status=0
start_dnsrr dnsrr ''
run dnsrr "$port"
start_dnsrr dnsrr+rrl $'[rrl]\nresponses_per_second = 1\nslip = 1\nexempt_loopback = false'
run dnsrr+rrl "$port"

if [ "$reference" = 1 ]; then
  cp "$root/examples/master/$zone.zone" "$work/$zone.zone"
  nsd=$(command -v nsd || echo /usr/sbin/nsd)
  knotd=$(command -v knotd || echo /usr/sbin/knotd)
  for rate in 0 1; do
    suffix=; [ "$rate" = 1 ] && suffix=+rrl
    if [ -x "$nsd" ]; then
      port=$(free_port)
      {
        echo "server:"
        for a in "${addrs[@]}"; do echo "  ip-address: $a@$port"; done
        # Debian's NSD limits 200 responses a second by default; rate 0 is off.
        cat <<EOF
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$work"
  database: ""
  zonelistfile: "$work/nsd$suffix.list"
  xfrdfile: "$work/nsd$suffix.xfrd"
  pidfile: "$work/nsd$suffix.pid"
  logfile: "$work/nsd$suffix.log"
  verbosity: 0
  nsid: "ascii_nsd$suffix"
  rrl-ratelimit: $rate
  rrl-whitelist-ratelimit: $rate
  rrl-slip: 1
remote-control:
  control-enable: no
zone:
  name: $zone
  zonefile: $zone.zone
EOF
      } > "$work/nsd$suffix.conf"
      "$nsd" -d -c "$work/nsd$suffix.conf" 2>"$work/nsd$suffix.err" &
      pids+=($!)
      wait_ready "$port"
      run "nsd$suffix" "$port"
    else
      echo "## nsd: not installed (apt-get install nsd)"
    fi
    if [ -x "$knotd" ]; then
      port=$(free_port)
      dir=$work/knot$suffix
      mkdir -p "$dir/db"
      cp "$work/$zone.zone" "$dir/"
      modules=mod-cookies
      [ "$rate" = 1 ] && modules="[mod-cookies, mod-rrl/tester]"
      cat > "$dir/knot.conf" <<EOF
server:
    rundir: $dir
    listen: [$(printf '%s@'"$port"', ' "${addrs[@]}" | sed 's/, $//')]
    nsid: "knot$suffix"
database:
    storage: $dir/db
mod-rrl:
  - id: tester
    rate-limit: 1
    slip: 1
template:
  - id: default
    storage: $dir
    global-module: $modules
zone:
  - domain: $zone
    file: $zone.zone
log:
  - target: stderr
    any: warning
EOF
      "$knotd" -c "$dir/knot.conf" 2>"$dir/knot.err" &
      pids+=($!)
      wait_ready "$port"
      run "knot$suffix" "$port"
    else
      echo "## knot: not installed (apt-get install knot)"
    fi
  done
fi

echo "## verdict"
judge dnsrr || status=1
judge dnsrr+rrl || status=1
exit $status
