#!/usr/bin/env bash
# Health agreement figures (README, "Running several nameservers"):
#
#   integration/perf/cluster.sh [-r ROUNDS] [-n INSTANCES] [-t TARGETS] [-s SECONDS] [-c CHANGES_PER_S]
#
# 1. Three real dnsrr instances on loopback (127.X.N.11–13, each probing
#    from its own address) and HTTP members on .21–23, with local health
#    and then as a cluster: how long the instances answer differently while
#    one of them is cut off from a member for 10 s, and, when the member
#    fails for everyone, how long until all withdraw it and how long they
#    disagree on the way (medians of ROUNDS, default 3).
# 2. Gossip sent per instance: INSTANCES cluster nodes (default 100) in one
#    process on 127.0.0.1, each with a view of TARGETS targets (default
#    100), memberlist's LAN timing, quiet for SECONDS (default 60: two
#    push-pull rounds), then with CHANGES_PER_S view changes a second
#    across the cluster (default 10).
# Everything runs on loopback and stops by itself (go test timeouts).
set -euo pipefail
rounds=3 nodes=100 targets=100 seconds=60 changes=10
while [ $# -gt 0 ]; do
  case "$1" in
    -r) rounds=$2; shift 2 ;;
    -n) nodes=$2; shift 2 ;;
    -t) targets=$2; shift 2 ;;
    -s) seconds=$2; shift 2 ;;
    -c) changes=$2; shift 2 ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done
cd "$(dirname "$0")/../.."
export DNSRR_CLUSTER_FIGURES=1 DNSRR_CLUSTER_ROUNDS=$rounds DNSRR_CLUSTER_NODES=$nodes \
  DNSRR_CLUSTER_TARGETS=$targets DNSRR_CLUSTER_SECONDS=$seconds DNSRR_CLUSTER_CHANGES=$changes
go test ./integration/ -run '^TestClusterFigures$' -count=1 -v -timeout 30m | grep -E 'FIGURE|^(---|ok|FAIL)'
go test ./internal/cluster/ -run '^TestGossipFigures$' -count=1 -v -timeout 30m | grep -E 'B/s|^(---|ok|FAIL)'
