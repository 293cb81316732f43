"""A throw-away single-node SLURM cluster for tests, and Snakemake runs in a copy of the workflow.

The cluster is started and stopped by ``.ci/slurm/start.sh`` / ``stop.sh`` (also usable by hand):
munged, slurmctld and slurmd run as root with everything (config, state, logs, pid files, munge
socket) under one folder and on free ports, so a system cluster is never touched. Client
commands reach it through ``SLURM_CONF``; :meth:`SlurmCluster.env` gives that environment.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / ".ci" / "slurm"
DAEMONS = ("munged", "slurmctld", "slurmd")
TOOLS = (*DAEMONS, "sinfo", "sbatch", "squeue", "scontrol", "scancel", "srun")
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
# The parts of the workflow a run needs (copied, so runs never write into the checkout).
WORKFLOW_PARTS = ("Snakefile", "config.yaml", "rules", "workflow", "envs", "configs")


def unavailable() -> str | None:
    """Why a cluster cannot be started here (missing tools, not root), or ``None``."""
    missing = [t for t in TOOLS if shutil.which(t, path=SBIN_PATH) is None]
    if missing:
        missing = ", ".join(missing)
        return f"SLURM/munge not installed ({missing} missing): apt-get install slurm-wlm munge"
    if os.geteuid() != 0:
        return "slurmd must run as root to start a test cluster"
    return None


class SlurmCluster:
    """Context manager: start the cluster under ``folder``; on exit stop exactly its daemons."""

    def __init__(self, folder: Path, start_timeout: int = 60) -> None:
        self.folder = Path(folder)
        self.conf = self.folder / "slurm.conf"
        self.start_timeout = start_timeout
        self.pids: dict[str, int] = {}

    def env(self) -> dict[str, str]:
        """The environment for client commands (and Snakemake) talking to this cluster."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        env["SLURM_CONF"] = str(self.conf)
        # bin/ holds client wrappers bound to this cluster (start.sh: nested srun needs them).
        env["PATH"] = os.pathsep.join(
            [str(self.folder / "bin"), str(Path(sys.executable).parent), SBIN_PATH]
        )
        return env

    def __enter__(self) -> SlurmCluster:
        env = {**self.env(), "SLURM_START_TIMEOUT": str(self.start_timeout)}
        started = time.monotonic()
        proc = subprocess.run(
            [str(SCRIPTS / "start.sh"), str(self.folder)],
            env=env,
            capture_output=True,
            text=True,
        )
        for name in DAEMONS:
            pidfile = self.folder / "run" / f"{name}.pid"
            if pidfile.is_file():
                self.pids[name] = int(pidfile.read_text().split()[0])
        if proc.returncode != 0:
            self.stop()
            raise RuntimeError(f"{SCRIPTS / 'start.sh'} failed:\n{proc.stdout}\n{proc.stderr}")
        self.start_seconds = time.monotonic() - started
        log.info("SLURM cluster up in %.1f s: %s", self.start_seconds, self.pids)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Cancel this cluster's jobs and end the daemons named in its pid files."""
        subprocess.run([str(SCRIPTS / "stop.sh"), str(self.folder)], env=self.env(), check=False)

    def run(self, *args: str) -> str:
        """Run a SLURM client command against this cluster; its stdout."""
        return subprocess.run(
            list(args), env=self.env(), capture_output=True, text=True, check=True
        ).stdout

    def job_info(self, job_id: str) -> dict[str, str]:
        """``scontrol show job`` as a dict (finished jobs stay visible for MinJobAge)."""
        text = self.run("scontrol", "show", "job", "--oneliner", job_id)
        return dict(re.findall(r"(\w+)=(\S*)", text))


def copy_workflow(dest: Path, extra_config: Path) -> Path:
    """Copy the workflow (not results) to ``dest``, with ``extra_config`` as ``small.yaml``."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.is_file():
            shutil.copy2(src, dest / part)
    shutil.copy2(extra_config, dest / "small.yaml")
    return dest


class SnakemakeRun:
    """The venv's Snakemake started in ``workdir`` (``--configfile config.yaml small.yaml``: the
    demo, shrunk), output to
    ``workdir/snakemake-<ns>.out``; :meth:`poll` sets ``returncode``, ``seconds``, ``output``."""

    def __init__(
        self, workdir: Path, *args: str, env: dict[str, str], configs=("config.yaml", "small.yaml")
    ) -> None:
        self.workdir = Path(workdir)
        cmd = [str(Path(sys.executable).parent / "snakemake"), *args, "--configfile", *configs]
        self.out = self.workdir / f"snakemake-{time.time_ns()}.out"
        self.started = time.monotonic()
        with open(self.out, "w") as out:
            self.proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=out)

    def poll(self) -> bool:
        """Whether it has finished (then ``returncode``, ``seconds`` and ``output`` are set)."""
        if not hasattr(self, "returncode") and self.proc.poll() is not None:
            self.returncode = self.proc.returncode
            self.seconds = time.monotonic() - self.started
            self.output = self.out.read_text()
        return hasattr(self, "returncode")

    def stop(self) -> None:
        """SIGTERM (Snakemake then cancels its SLURM jobs) and wait for the exit."""
        self.proc.terminate()
        self.proc.wait(timeout=120)
        self.poll()

    def log(self) -> str:
        """The text of Snakemake's own log of this run (.snakemake/log/*.snakemake.log)."""
        logs = sorted((self.workdir / ".snakemake" / "log").glob("*.snakemake.log"))
        return logs[-1].read_text() if logs else ""


def wait_all(runs: list[SnakemakeRun], timeout: float) -> None:
    """Wait until every run finished; stop those still going after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not all(run.poll() for run in runs) and time.monotonic() < deadline:
        time.sleep(1)
    for run in runs:
        if not run.poll():
            log.error("%s: still running after %.0f s; stopping it", run.workdir, timeout)
            run.stop()
