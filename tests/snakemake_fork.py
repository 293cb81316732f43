"""Snakemake dry runs in forked children of a process that has imported Snakemake once.

A dry run of the demo DAG costs ~0.9 s of CPU, but a fresh ``python -m snakemake`` spends another
~2 s importing Snakemake and its plugins first. The cache-key test makes one dry run per schema
key (over a hundred), so it forks them from this process instead: each child is a fresh copy
(no Workflow state is shared between runs, as with a subprocess), minus the import. POSIX only
(``fork``); elsewhere it falls back to a subprocess.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def _child(workdir: str, argv: list[str], out: str, err: str) -> None:  # pragma: no cover
    import snakemake.cli

    os.chdir(workdir)
    for fd, path in ((1, out), (2, err)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(handle, fd)
        os.close(handle)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    code = 0
    try:
        snakemake.cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    except BaseException:  # noqa: BLE001 - reported through the exit code and stderr
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(workdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``snakemake --cores 2 --nolock ARGS`` in ``workdir``: returncode, stdout, stderr."""
    argv = ["--cores", "2", "--nolock", *args]
    if "fork" not in multiprocessing.get_all_start_methods():
        cmd = [sys.executable, "-m", "snakemake", *argv]
        return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    import snakemake.cli  # noqa: F401 - imported once here, inherited by every child

    with tempfile.TemporaryDirectory() as tmp:
        out, err = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        child = multiprocessing.get_context("fork").Process(
            target=_child, args=(str(workdir), argv, out, err)
        )
        child.start()
        child.join(timeout)
        if child.is_alive():
            child.kill()
            child.join()
            raise subprocess.TimeoutExpired(["snakemake", *argv], timeout)
        return subprocess.CompletedProcess(
            argv, child.exitcode, Path(out).read_text(), Path(err).read_text()
        )
