#!/usr/bin/env bash
# Stop the cluster started by start.sh DIR: cancel its jobs, then end exactly the daemons whose
# pid files are in DIR/run (never by process name), waiting up to 20 s for each.
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$(cd "$1" && pwd) || exit 0
export PATH="$PATH:/usr/sbin:/sbin" SLURM_CONF="$dir/slurm.conf"
[ -f "$SLURM_CONF" ] && scancel --full --quiet --user="$(id -un)" 2>/dev/null
rc=0
for name in slurmd slurmctld munged; do
  pidfile="$dir/run/$name.pid"
  [ -s "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "stop.sh: $name ($pid) ignored SIGTERM; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null; rc=1
    fi
  fi
  rm -f "$pidfile"
done
exit "$rc"
