"""How to cite: LICENSE matches pyproject (MIT), CITATION.cff cites the pipeline and the works
its results rest on, and validates against the Citation File Format 1.2.0 schema where
cffconvert (which ships the schema) is installed."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def test_license_file_is_the_mit_licence_pyproject_names(repo):
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "MIT"}
    text = (repo / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text


def test_citation_cites_the_pipeline_and_its_sources(repo):
    cff = yaml.safe_load((repo / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["license"] == "MIT" and cff["title"].startswith("mgi-pipeline")
    version = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["version"]
    assert cff["version"] == version
    refs = {r.get("doi") or r["url"]: r for r in cff["references"]}
    assert set(refs) == {
        "https://arxiv.org/abs/2406.00631",  # the MGI paper
        "10.1016/j.compbiomed.2019.05.002",  # Buda et al. 2019, kaggle_3m
        "10.1038/sdata.2017.117",  # Bakas et al. 2017, BraTS-TCGA-LGG
        "10.1056/NEJMp1607591",  # Grossman et al. 2016, the GDC
    }
    assert "CC BY-NC-SA 4.0" in refs["10.1016/j.compbiomed.2019.05.002"]["notes"]
    for ref in cff["references"]:
        assert ref["type"] and ref["title"] and ref["authors"] and isinstance(ref["year"], int)


@pytest.mark.skipif(importlib.util.find_spec("cffconvert") is None, reason="no cffconvert")
def test_citation_validates_against_the_cff_schema(repo):
    import importlib.resources

    import jsonschema

    schema = json.loads(
        importlib.resources.files("cffconvert").joinpath("schemas/1.2.0/schema.json").read_text()
    )
    cff = yaml.safe_load((repo / "CITATION.cff").read_text())
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(cff)


def test_readme_says_how_to_cite(repo):
    readme = (repo / "README.md").read_text()
    section = readme.split("## How to cite", 1)[1].split("\n## ", 1)[0]
    for needle in ("CITATION.cff", "2406.00631", "Buda", "Bakas", "Genomic Data Commons",
                   "CC BY-NC-SA 4.0", "LICENSE"):  # fmt: skip
        assert needle in section, needle
