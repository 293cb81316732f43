"""The demo DAG through profiles/slurm on a real single-node SLURM cluster started by the test.

The cluster (munged, slurmctld, slurmd; .ci/slurm/) runs as root with a fake GPU GRES, so the
GPU rules' ``--gpus=1`` submissions are accepted and train on the CPU. The demo is shrunk by
.ci/slurm/demo-small.yaml; the same config also runs locally (the session's shared finished
demo, conftest ``finished_demo``, built while the SLURM run goes on), and the outputs of the two
runs must agree. Skips where SLURM/munge are not
installed or we are not root, unless MGI_REQUIRE_SLURM=1 (set by .ci/run), where it fails.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from output_compare import compare_runs
from slurm_cluster import REPO, SlurmCluster, SnakemakeRun, copy_workflow, unavailable, wait_all
from test_profiles import LOCAL

log = logging.getLogger(__name__)
pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SMALL_CONFIG = REPO / ".ci" / "slurm" / "demo-small.yaml"
PROFILE = REPO / "profiles" / "slurm"
RUN_TIMEOUT = 1200  # seconds per Snakemake run (the whole module takes a few minutes)
# Status polls start after 3 s; the test cluster's MinJobAge (3600 s) is far above 3 x 3 s.
SLURM_ARGS = (
    "--profile",
    str(PROFILE),
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "3",
    "--retries",
    "0",  # a failing job fails the test instead of being resubmitted
)
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
BLOCK = re.compile(r"^(local)?rule (\w+):\n((?:    .*\n)+)", re.M)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A running cluster; afterwards its daemons (and only those) are gone."""
    reason = unavailable()
    if reason:
        if os.environ.get("MGI_REQUIRE_SLURM") == "1":
            pytest.fail(f"MGI_REQUIRE_SLURM=1 but {reason}")
        pytest.skip(reason)
    with SlurmCluster(tmp_path_factory.mktemp("slurm-cluster")) as c:
        pids = dict(c.pids)
        yield c
    time.sleep(0.5)
    alive = {name: pid for name, pid in pids.items() if _alive(pid)}
    assert not alive, f"daemons still running after stop.sh: {alive}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # zombie: exited


class FinishedRun:
    """The session's shared local run of the same small demo (conftest ``finished_demo``)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def log(self) -> str:
        logs = sorted((self.workdir / ".snakemake" / "log").glob("*.snakemake.log"))
        return logs[-1].read_text() if logs else ""


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory, request):
    """The same small demo run through SLURM and locally: (local, slurm). The local run is the
    session's shared finished demo, built (or waited for) while the SLURM run goes on."""
    base = tmp_path_factory.mktemp("runs")
    slurm = SnakemakeRun(
        copy_workflow(base / "slurm", SMALL_CONFIG), *SLURM_ARGS, env=cluster.env()
    )
    local = FinishedRun(request.getfixturevalue("finished_demo"))
    wait_all([slurm], RUN_TIMEOUT)
    log.info("cluster up %.1f s; SLURM run %.0f s", cluster.start_seconds, slurm.seconds)
    assert slurm.returncode == 0, f"SLURM run failed; see {slurm.out}:\n{slurm.output[-3000:]}"
    return local, slurm


def _jobs(log: str) -> dict[int, tuple[bool, str, str]]:
    """Snakemake job id -> (local?, rule, resources line) from a Snakemake log."""
    jobs = {}
    for local, rule, body in BLOCK.findall(log):
        fields = dict(re.findall(r"^    (\w+): (.*)$", body, re.M))
        jobs[int(fields["jobid"])] = (bool(local), rule, fields.get("resources", ""))
    return jobs


# Rules that run where Snakemake runs (the login node): the demo downloads nothing and has no
# external cohort.
LOCAL_RULES = LOCAL - {
    "gdc_download",
    "gdc_cases",
    "gdc_markers",
    "imaging_fetch",
    "external_evaluate",
    "external_table",
}


def test_every_job_ran_as_a_slurm_job_but_the_local_rules(runs, cluster):
    local, slurm = runs
    jobs = _jobs(slurm.log())
    remote = {jid: rule for jid, (is_local, rule, _) in jobs.items() if not is_local}
    on_login = Counter(rule for is_local, rule, _ in jobs.values() if is_local and rule != "all")
    submitted = {int(jid): (sid, Path(path)) for jid, sid, path in SUBMITTED.findall(slurm.log())}
    assert remote, "no job was run remotely"
    assert set(remote) == set(submitted), "jobs that were not submitted to SLURM"
    assert set(on_login) == LOCAL_RULES
    # The local run ran the same rule instances (there, everything is a local rule).
    local_rules = Counter(rule for _, rule, _ in _jobs(local.log()).values() if rule != "all")
    assert Counter(remote.values()) + on_login == local_rules
    for jid, (slurm_id, slurm_log) in submitted.items():
        info = cluster.job_info(slurm_id)
        assert info["JobState"] == "COMPLETED", f"{remote[jid]}: SLURM job {slurm_id} {info}"
        assert slurm_log.is_file() and f"rule {remote[jid]}:" in slurm_log.read_text()


def test_gpu_rules_got_a_gpu_on_the_default_partition(runs, cluster):
    """The profile names no partition: every job lands in the cluster's default one, whatever
    its name (the test cluster's only partition is compute42)."""
    _, slurm = runs
    jobs = _jobs(slurm.log())
    submitted = {int(jid): sid for jid, sid, _ in SUBMITTED.findall(slurm.log())}
    gpu_rules = set()
    for jid, slurm_id in submitted.items():
        _, rule, resources = jobs[jid]
        info = cluster.job_info(slurm_id)
        if re.search(r"\bgpu=1\b", resources):
            gpu_rules.add(rule)
            assert "gpu:1" in info.get("TresPerJob", ""), f"{rule}: {info}"
        else:
            assert "gpu" not in info.get("TresPerJob", ""), f"{rule}: {info}"
        assert info["Partition"] == "compute42", f"{rule}: {info['Partition']}"
    assert gpu_rules >= {"pretrain_train", "finetune_train"}


def test_slurm_results_match_the_local_run(runs):
    local, slurm = runs
    compared, problems = compare_runs(local.workdir, slurm.workdir)
    assert len(compared) > 20
    assert not problems, "\n".join(problems[:20])


def _wait_for(condition, timeout: float, what: str, run: SnakemakeRun):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        assert not run.poll(), f"Snakemake exited waiting for {what}:\n{run.output[-3000:]}"
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_sigterm_checkpoints_and_the_rerun_resumes(runs, cluster):
    """SIGTERM to a running training job (as SLURM sends it 300 s before the time limit, asked
    for by the profile's --signal, or at pre-emption) -> checkpoint; the rerun resumes from it.
    Runs after the comparison, in the SLURM run's folder."""
    _, slurm = runs
    workdir = slurm.workdir
    # epochs: params change, reruns; checkpoint_minutes 0: a checkpoint every epoch to wait for
    (workdir / "long.yaml").write_text("pretrain:\n  epochs: 40\n  checkpoint_minutes: 0\n")
    target = "results/pretrain/mamba/model.pt"
    ckpts = workdir / "results/pretrain/mamba/checkpoints"
    args = (target, *SLURM_ARGS)
    configs = ("config.yaml", "small.yaml", "long.yaml")
    first = SnakemakeRun(workdir, *args, "--verbose", env=cluster.env(), configs=configs)

    def submitted_id():
        ids = SUBMITTED.findall(first.out.read_text())
        return ids[0][1] if ids else None

    slurm_id = _wait_for(submitted_id, 120, "pretrain_train to be submitted", first)
    before = set(ckpts.glob("*.pt"))
    _wait_for(lambda: set(ckpts.glob("*.pt")) - before, 300, "a first epoch checkpoint", first)
    sbatch = re.search(r"sbatch call: (.*)", first.out.read_text())
    assert sbatch and "--signal=TERM@300" in sbatch[1], "training jobs must ask for an early signal"
    cluster.run("scancel", "--signal=TERM", slurm_id)  # to the job's steps, as --signal does
    wait_all([first], 300)
    stopped_log = (workdir / "logs/pretrain/mamba.log").read_text()
    assert first.returncode != 0, "the SIGTERM'd run should fail"
    assert "stopped by SIGTERM" in stopped_log, stopped_log[-2000:]
    saved = re.search(r"checkpoint (\S+epoch-(\d+)-step-(\d+)\.pt)", stopped_log)
    assert saved, stopped_log[-2000:]
    assert (workdir / saved[1]).is_file(), f"{saved[1]} missing"
    assert int(saved[2]) < 40, "the job was stopped before it finished"

    second = SnakemakeRun(workdir, *args, env=cluster.env(), configs=configs)
    wait_all([second], RUN_TIMEOUT)
    assert second.returncode == 0, second.output[-3000:]
    resumed_log = (workdir / "logs/pretrain/mamba.log").read_text()
    assert f"resuming from {saved[1]}" in resumed_log, resumed_log[-2000:]
    history = pd.read_csv(workdir / "results/pretrain/mamba/metrics.csv")
    assert list(history["epoch"]) == list(range(1, 41))
