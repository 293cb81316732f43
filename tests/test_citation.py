"""How to cite: LICENSE matches pyproject (MIT), CITATION.cff cites the pipeline and the works
its results rest on, and validates against the Citation File Format 1.2.0 schema.

The schema is vendored (``tests/data/cff-schema-1.2.0.json``, byte for byte the one cffconvert
2.0.0 ships as ``cffconvert/schemas/1.2.0/schema.json``, CC BY 4.0 by the Citation File Format
project): cffconvert itself pins ``jsonschema<4``, which Snakemake's own requirement excludes, so
it cannot be a test dependency, and a test that skips without it would never run in CI."""

from __future__ import annotations

import json

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def test_license_file_is_the_mit_licence_pyproject_names(repo):
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
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


def _cff_validator(repo):
    import jsonschema

    schema = json.loads((repo / "tests" / "data" / "cff-schema-1.2.0.json").read_text())
    assert schema["$id"] == "https://citation-file-format.github.io/1.2.0/schema.json"
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def test_citation_validates_against_the_cff_schema(repo):
    cff = yaml.safe_load((repo / "CITATION.cff").read_text())
    _cff_validator(repo).validate(cff)


def test_the_cff_schema_rejects_what_cffconvert_would(repo):
    import jsonschema

    cff = yaml.safe_load((repo / "CITATION.cff").read_text())
    validator = _cff_validator(repo)
    for broken in ({**cff, "cff-version": "9.9"}, {k: v for k, v in cff.items() if k != "authors"},
                   {**cff, "type": "paper"}):  # fmt: skip
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(broken)


def test_readme_says_how_to_cite(repo):
    readme = (repo / "README.md").read_text()
    section = readme.split("## How to cite", 1)[1].split("\n## ", 1)[0]
    for needle in ("CITATION.cff", "2406.00631", "Buda", "Bakas", "Genomic Data Commons",
                   "CC BY-NC-SA 4.0", "LICENSE"):  # fmt: skip
        assert needle in section, needle
