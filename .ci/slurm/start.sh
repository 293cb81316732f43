#!/usr/bin/env bash
# Start a throw-away single-node SLURM cluster (munged, slurmctld, slurmd) under DIR, as root.
#   .ci/slurm/start.sh DIR        # then: export PATH=DIR/bin:$PATH; sinfo; sbatch ...
#   .ci/slurm/stop.sh DIR         # stops exactly the daemons started here (pid files in DIR/run)
# Needs Debian's slurm-wlm and munge (apt-get install slurm-wlm munge). Waits until the node is
# idle (at most $SLURM_START_TIMEOUT s, default 60) and exits non-zero if it never gets there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
dir=$(cd "$1" && pwd)
export PATH="$PATH:/usr/sbin:/sbin"
for tool in munged slurmctld slurmd sinfo; do
  command -v "$tool" >/dev/null \
    || { echo "start.sh: $tool not found (apt-get install slurm-wlm munge)" >&2; exit 3; }
done
[ "$(id -u)" -eq 0 ] || { echo "start.sh: slurmd must run as root" >&2; exit 3; }
host=$(hostname -s)
mkdir -p "$dir"/{munge,state,spool,log,run}
chmod 700 "$dir" "$dir/munge"
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ctld_port=$(free_port)
slurmd_port=$(free_port)
while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
cpus=$(nproc)
[ "$cpus" -ge 4 ] || cpus=4  # rules ask for up to 4 threads; config_overrides accepts more
mem=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
[ "$mem" -ge 65536 ] || mem=65536
fill() {
  sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$host|g" -e "s|@CTLD_PORT@|$ctld_port|g" \
    -e "s|@SLURMD_PORT@|$slurmd_port|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEM@|$mem|g" "$1" > "$2"
}
fill "$here/slurm.conf.in" "$dir/slurm.conf"
fill "$here/gres.conf.in" "$dir/gres.conf"
export SLURM_CONF="$dir/slurm.conf"
# Client commands bound to this cluster: Snakemake's jobstep plugin drops SLURM_* (SLURM_CONF
# included) before its nested srun, so jobs find the cluster through these on PATH instead.
mkdir -p "$dir/bin"
for tool in srun sbatch squeue scontrol scancel sinfo sacct; do
  printf '#!/bin/sh\nSLURM_CONF=%q exec %q "$@"\n' "$SLURM_CONF" "$(command -v "$tool")" > "$dir/bin/$tool"
  chmod +x "$dir/bin/$tool"
done

if [ ! -s "$dir/munge/munge.key" ]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
fi
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
  --seed-file="$dir/munge/munged.seed"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

timeout=${SLURM_START_TIMEOUT:-60}
for _ in $(seq "$timeout"); do
  state=$(sinfo --noheader --nodes="$host" --format=%T 2>/dev/null || true)
  if [ "$state" = "idle" ]; then
    echo "start.sh: node $host idle; export PATH=$dir/bin:\$PATH"
    exit 0
  fi
  sleep 1
done
echo "start.sh: node $host not idle after ${timeout}s (state: '${state:-}'); logs in $dir/log" >&2
tail -n 20 "$dir"/log/*.log >&2 || true
exit 1
