"""Provenance recorded with every checkpoint and table: config hash, seed, git commit, versions."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "mgi-pipeline",
    "torch",
    "torchvision",
    "timm",
    "monai",
    "segmentation-models-pytorch",
    "mamba-ssm",
    "numpy",
    "pandas",
    "pyarrow",
    "nibabel",
    "tifffile",
    "snakemake",
)


def config_hash(config: Any) -> str:
    """SHA-256 (first 16 hex digits) of ``config`` serialised as canonical JSON."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def git_commit(path: str | Path = ".") -> str:
    """The commit of the repository holding ``path`` (``+dirty`` if modified), or ``unknown``."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (``None`` where it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance(config: Any = None, seed: int | None = None) -> dict[str, Any]:
    """Everything needed to say where a result came from."""
    return {
        "config_hash": config_hash(config) if config is not None else None,
        "config": config,
        "seed": seed,
        "git_commit": git_commit(Path(__file__).resolve().parent),
        "python": platform.python_version(),
        "packages": package_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
