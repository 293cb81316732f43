"""mgi.atomic: results get the modes the umask gives, and a failure leaves nothing behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import mgi.atomic as atomic
from mgi.atomic import atomic_path, current_umask, write_text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test; the old one is restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)

    def set_umask(mask: int) -> None:
        os.umask(mask)

    yield set_umask
    os.umask(old)


needs_proc_umask = pytest.mark.skipif(
    atomic._umask_from_proc() is None,
    reason="no Umask: line in /proc/self/status: the umask is only read at import",
)


@needs_proc_umask
@pytest.mark.parametrize(
    ("mask", "file_mode", "dir_mode"),
    [(0o022, 0o644, 0o755), (0o002, 0o664, 0o775), (0o077, 0o600, 0o700)],
    ids=["umask022", "umask002", "umask077"],
)
def test_modes_follow_the_umask(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    assert current_umask() == mask

    with atomic_path(tmp_path / "out" / "table.tsv") as tmp:
        tmp.write_text("a\tb\n")
    with atomic_path(tmp_path / "out" / "store", directory=True) as tmp:
        (tmp / "inner.json").write_text("{}")
        (tmp / "sub").mkdir()
    write_text(tmp_path / "out" / "note.txt", "hello\n")

    assert _mode(tmp_path / "out" / "table.tsv") == file_mode
    assert _mode(tmp_path / "out" / "note.txt") == file_mode
    assert _mode(tmp_path / "out" / "store") == dir_mode
    # what the writer creates inside the folder follows the umask on its own
    assert _mode(tmp_path / "out" / "store" / "inner.json") == file_mode
    assert _mode(tmp_path / "out" / "store" / "sub") == dir_mode
    # and the same as a plain open()/mkdir() would give
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "plain").mkdir()
    assert _mode(tmp_path / "plain.txt") == file_mode
    assert _mode(tmp_path / "plain") == dir_mode


@needs_proc_umask
def test_replacing_an_existing_folder_gets_the_modes_too(tmp_path, umask):
    umask(0o002)
    out = tmp_path / "store"
    with atomic_path(out, directory=True) as tmp:
        (tmp / "old").write_text("1")
    with atomic_path(out, directory=True) as tmp:
        (tmp / "new").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == ["new"]
    assert _mode(out) == 0o775
    assert [p.name for p in tmp_path.iterdir()] == ["store"]


@needs_proc_umask
def test_a_folder_keeps_the_setgid_bit_of_a_shared_parent(tmp_path, umask):
    umask(0o002)
    shared = tmp_path / "project"
    shared.mkdir()
    shared.chmod(0o2775)
    if not shared.stat().st_mode & stat.S_ISGID:
        pytest.skip("this file system does not keep the setgid bit on folders")
    with atomic_path(shared / "store", directory=True) as tmp:
        (tmp / "x").write_text("1")
    mode = (shared / "store").stat().st_mode
    assert mode & stat.S_ISGID
    assert stat.S_IMODE(mode) == 0o2775


def test_without_proc_the_umask_read_at_import_is_used(monkeypatch, tmp_path):
    monkeypatch.setattr(atomic, "_umask_from_proc", lambda: None)
    monkeypatch.setattr(atomic, "_IMPORT_UMASK", 0o027)
    assert current_umask() == 0o027
    with atomic_path(tmp_path / "f") as tmp:
        tmp.write_text("x")
    with atomic_path(tmp_path / "d", directory=True):
        pass
    assert _mode(tmp_path / "f") == 0o640
    assert _mode(tmp_path / "d") == 0o750


def test_import_umask_read_is_the_real_umask():
    # the os.umask fallback, run here, must agree with the live value and leave it as it was
    before = current_umask() if atomic._umask_from_proc() is not None else None
    mask = atomic._umask_by_setting()
    if before is not None:
        assert mask == before
        assert current_umask() == before
    assert atomic._umask_by_setting() == mask


class Boom(Exception):
    pass


def test_a_failed_file_write_leaves_nothing_behind(tmp_path):
    out = tmp_path / "table.tsv"
    with pytest.raises(Boom), atomic_path(out) as tmp:
        tmp.write_text("half")
        raise Boom
    assert list(tmp_path.iterdir()) == []


def test_a_failed_folder_write_leaves_nothing_behind(tmp_path):
    out = tmp_path / "store"
    with pytest.raises(Boom), atomic_path(out, directory=True) as tmp:
        (tmp / "part").mkdir()
        (tmp / "part" / "x").write_text("half")
        raise Boom
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_previous_result(tmp_path):
    out = tmp_path / "table.tsv"
    write_text(out, "old\n")
    with pytest.raises(Boom), atomic_path(out) as tmp:
        tmp.write_text("new")
        raise Boom
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.tsv"]

    folder = tmp_path / "store"
    with atomic_path(folder, directory=True) as tmp:
        (tmp / "a").write_text("old")
    with pytest.raises(Boom), atomic_path(folder, directory=True) as tmp:
        (tmp / "b").write_text("new")
        raise Boom
    assert [p.name for p in folder.iterdir()] == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store", "table.tsv"]
