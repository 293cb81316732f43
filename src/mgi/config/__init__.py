"""The effective configuration of a run: which files make it, defaults, validation.

One rule decides which files make a run, here and in the Snakefile alike: with no
``--configfile`` the run is ``config.yaml`` (the demo); with one or more ``--configfile``, those
files alone, merged in order (nested mappings merge, any other value replaces), so nothing of the
demo leaks into another run. Missing keys take the defaults of the schema
(``config.schema.yaml`` beside this module, also linked from ``workflow/schemas/``), the one
source of defaults for the workflow and the ``mgi`` sub-commands alike.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

SCHEMA = Path(__file__).with_name("config.schema.yaml")
DEFAULT_CONFIGFILE = "config.yaml"


class ConfigError(ValueError):
    """A configuration that does not match the schema (the message names the key)."""


@functools.cache
def schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA.read_text())


def merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into ``base`` in place as Snakemake merges config files: mappings
    recursively, every other value (lists included) replaced. Returns ``base``."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _fill(instance: Any, node: Mapping[str, Any]) -> None:
    if not isinstance(instance, dict):
        return
    for key, sub in node.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill(instance[key], sub)


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """Fill in the schema's defaults (in place) and check ``config`` against the schema.

    Raises :class:`ConfigError` naming the first offending key, e.g. ``config: demo.patients:
    'many' is not of type 'integer'``.
    """
    import jsonschema

    _fill(config, schema())
    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        where = ".".join(map(str, error.absolute_path)) or "(top level)"
        raise ConfigError(f"config: {where}: {error.message}")
    check(config)
    return config


def check(config: dict[str, Any]) -> None:
    """The checks across keys that the schema cannot state; the one place the workflow
    (rules/common.smk, through :func:`validate`) and ``mgi config show`` both run them.
    Raises :class:`ConfigError` naming the keys."""
    if config["split"]["scheme"] == "cv" and config["split"]["folds"] < 2:
        raise ConfigError("config: split.folds: scheme cv needs at least 2 folds")
    if config["finetune"]["select"] == "val_dice" and config["split"]["val_fraction"] == 0:
        raise ConfigError(
            "config: finetune.select: val_dice needs validation patients (split.val_fraction > 0)"
        )
    if config["finetune"]["gene_encoder"] not in config["pretrain"]["gene_encoders"]:
        raise ConfigError("config: finetune.gene_encoder must be one of pretrain.gene_encoders")
    im = config["imaging"]
    needs = {"kaggle": "kaggle_3m", "brats_tcga_lgg": "nifti"}.get(im["source"])
    if needs and im["format"] != needs:
        raise ConfigError(f"config: imaging.source: {im['source']} needs imaging.format: {needs}")
    if im["source"] == "brats_tcga_lgg" and not im["brats"]["zip"]:
        raise ConfigError(
            "config: imaging.brats.zip is required with imaging.source: brats_tcga_lgg"
        )
    if im["source"] == "local" and im["format"] == "kaggle_3m" and not im["root"]:
        raise ConfigError("config: imaging.root is required with imaging.format: kaggle_3m")
    if (
        im["source"] == "local"
        and im["format"] == "nifti"
        and not (im["sheet"] or im["root"])
        and config["source"] != "demo"
    ):
        raise ConfigError(
            "config: imaging.sheet or imaging.root is required with source: gdc and format: nifti"
        )


def defaults(*section: str) -> Any:
    """The schema's defaults, whole or of one section (``defaults("pretrain")``); no jsonschema
    import, so ``mgi --help`` stays fast."""
    out: Any = {}
    _fill(out, schema())
    for key in section:
        out = out[key]
    return out


def read(path: str | Path) -> dict[str, Any]:
    """One config file (YAML); an empty file is an empty mapping."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file must hold a mapping, not {type(data).__name__}")
    return data


def load(
    configfiles: Sequence[str | Path] = (),
    *,
    overrides: Mapping[str, Any] | None = None,
    workdir: str | Path = ".",
) -> dict[str, Any]:
    """The effective, validated config of a run, as the workflow computes it.

    ``configfiles``: the ``--configfile`` files in order (none: ``workdir``/config.yaml);
    ``overrides``: ``--config`` values, merged last.
    """
    files = list(configfiles) or [Path(workdir) / DEFAULT_CONFIGFILE]
    config: dict[str, Any] = {}
    for path in files:
        merge(config, read(path))
    merge(config, overrides or {})
    return validate(config)


def dump(config: Mapping[str, Any]) -> str:
    """YAML text of ``config`` in its own key order."""
    return yaml.safe_dump(dict(config), sort_keys=False, width=100)


def record(path: str | Path, config: Mapping[str, Any], configfiles: Sequence[str]) -> None:
    """Write the effective config of a run to ``path`` (YAML), headed by where it came from."""
    from mgi.atomic import write_text
    from mgi.provenance import git_commit

    origin = ", ".join(map(str, configfiles)) or DEFAULT_CONFIGFILE
    header = (
        "# The effective config of this run (validated, schema defaults filled in).\n"
        f"# From: {origin}; mgi-pipeline git {git_commit(Path(__file__).resolve().parent)}.\n"
        "# Rerun it with: snakemake --configfile results/config.yaml\n"
    )
    write_text(path, header + dump(config))
