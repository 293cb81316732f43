"""Write outputs so that a failure never leaves a half-written file or folder behind.

Everything is written to a temporary sibling first and renamed into place (``os.replace`` is
atomic on one file system); on an exception the temporary is removed.

``tempfile.mkstemp``/``mkdtemp`` create their temporaries private (0600 files, 0700 folders);
the temporary is given the modes a plain ``open``/``mkdir`` would have given it under the
process umask (0644/0755 under umask 022, 0664/0775 under 002), so that results in a shared
project folder stay readable by the group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask_from_proc() -> int | None:
    """The umask from ``/proc/self/status`` (Linux >= 4.7), or None where it is not there."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _umask_by_setting() -> int:
    # os.umask can only be read by setting it: process-global, so only done once, at import.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_IMPORT_UMASK = _umask_from_proc()
if _IMPORT_UMASK is None:
    _IMPORT_UMASK = _umask_by_setting()


def current_umask() -> int:
    """The process umask, read without changing it (where ``/proc`` can't tell: as at import)."""
    mask = _umask_from_proc()
    return _IMPORT_UMASK if mask is None else mask


def _give_default_mode(path: Path, *, directory: bool) -> None:
    """Give ``path`` the permission bits ``open``/``mkdir`` would have under the umask.

    A folder keeps its set-group-ID bit (inherited from a setgid parent folder), so new files in
    it keep getting the shared group.
    """
    base = 0o777 if directory else 0o666
    keep = path.stat().st_mode & stat.S_ISGID if directory else 0
    os.chmod(path, keep | (base & ~current_umask()))


@contextlib.contextmanager
def atomic_path(path: str | Path, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    >>> with atomic_path("out.parquet") as tmp:
    ...     df.to_parquet(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        _give_default_mode(tmp, directory=directory)
        yield tmp
        if directory and path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
