"""The demo cohort is written in the real formats, deterministically."""

from __future__ import annotations

import hashlib

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from mgi.synthetic import STAR_HEADER, DemoSpec, synthesize


def _digest(root):
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_star_counts_files_have_the_real_layout(tiny_demo):
    files = pd.read_csv(tiny_demo / "gdc" / "files.tsv", sep="\t")
    assert list(files.columns) == [
        "file_id", "file_name", "md5sum", "file_size", "case_id",
        "case_submitter_id", "sample_submitter_id", "sample_type",
    ]  # fmt: skip
    row = files.iloc[0]
    path = tiny_demo / "gdc" / row.file_id / row.file_name
    lines = path.read_text().splitlines()
    assert lines[0] == "# gene-model: GENCODE v36"
    assert tuple(lines[1].split("\t")) == STAR_HEADER
    assert [line.split("\t")[0] for line in lines[2:6]] == [
        "N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous",
    ]  # fmt: skip
    genes = [line.split("\t")[0] for line in lines[6:]]
    assert len(genes) == 600
    assert any(g.endswith("_PAR_Y") for g in genes)
    assert all(g.startswith("ENSG") and "." in g for g in genes)
    assert hashlib.md5(path.read_bytes()).hexdigest() == row.md5sum
    assert path.stat().st_size == row.file_size
    manifest = pd.read_csv(tiny_demo / "gdc" / "manifest.tsv", sep="\t")
    assert list(manifest.columns) == ["id", "filename", "md5", "size", "state"]


def test_some_cases_have_two_aliquots_and_unpaired_cases_exist(tiny_demo):
    files = pd.read_csv(tiny_demo / "gdc" / "files.tsv", sep="\t")
    per_case = files.groupby("case_submitter_id").sample_type.apply(set)
    assert any(s == {"Primary Tumor", "Recurrent Tumor"} for s in per_case)
    sheet = pd.read_csv(tiny_demo / "imaging" / "sheet.tsv", sep="\t")
    assert set(per_case.index) != set(sheet.case_id)  # unpaired on both sides


def test_volumes_have_real_anisotropic_affine_and_matching_masks(tiny_demo):
    sheet = pd.read_csv(tiny_demo / "imaging" / "sheet.tsv", sep="\t")
    row = sheet.iloc[0]
    flair = nib.load(tiny_demo / "imaging" / row.flair)
    mask = nib.load(tiny_demo / "imaging" / row["mask"])
    assert flair.shape == mask.shape == (32, 32, 8)
    np.testing.assert_allclose(flair.affine, mask.affine)
    zooms = flair.header.get_zooms()
    assert zooms[2] > 2 * zooms[0]  # anisotropic
    assert not np.allclose(flair.affine, np.eye(4))
    assert nib.aff2axcodes(flair.affine) != ("R", "A", "S")  # reorientation is exercised
    m = np.asarray(mask.dataobj)
    assert set(np.unique(m)) == {0, 1} and m.sum() > 0
    assert np.asarray(flair.dataobj).dtype == np.int16


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    spec = DemoSpec(patients=4, genes=500, slices=6, size=32, module_genes=40, seed=11)
    a = _digest(synthesize(spec, tmp_path / "a"))
    b = _digest(synthesize(spec, tmp_path / "b"))
    assert a == b
    c = _digest(synthesize(DemoSpec(**{**spec.__dict__, "seed": 12}), tmp_path / "c"))
    assert a != c


def test_genes_carry_the_latent_signal(tiny_demo):
    """Module genes correlate with the planted factors (the demo has something to learn)."""
    files = pd.read_csv(tiny_demo / "gdc" / "files.tsv", sep="\t")
    files = files[files.sample_type == "Primary Tumor"]
    lat = pd.read_csv(tiny_demo / "latent.tsv", sep="\t").set_index("case_id")
    mats = []
    for row in files.itertuples():
        t = pd.read_csv(tiny_demo / "gdc" / row.file_id / row.file_name, sep="\t", skiprows=1)
        mats.append(np.log2(t.tpm_unstranded.iloc[4:].to_numpy() + 1))
    x = np.stack(mats)
    z = lat.loc[files.case_submitter_id, "z0"].to_numpy()
    corr = np.array([np.corrcoef(z, x[:, g])[0, 1] if x[:, g].std() > 0 else 0 for g in
                     range(x.shape[1])])  # fmt: skip
    assert (np.abs(corr) > 0.8).sum() >= 20


def test_bad_spec_is_refused():
    with pytest.raises(ValueError, match="module_genes"):
        DemoSpec(genes=100, module_genes=50, latent_factors=3)
