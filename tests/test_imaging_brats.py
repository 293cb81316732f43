"""A BraTS-TCGA-LGG-layout zip (tiny generated NIfTI volumes) -> NIfTI sheet -> slices."""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from mgi.cli import main
from mgi.imaging import SliceOptions, SliceStore, build_store
from mgi.imaging.brats import brats_sheet

TOP = "Pre-operative_TCGA_LGG_NIfTI_and_Segmentations"
SHAPE = (24, 24, 8)  # BraTS volumes are 240 x 240 x 155; tiny here


def _nifti(data: np.ndarray) -> bytes:
    img = nib.Nifti1Image(data, np.diag([1.0, 1.0, 1.0, 1.0]))
    return gzip.compress(img.to_bytes())


def _volumes(case: str, seed: int, *, corrected: bool) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    flair = rng.normal(100, 10, SHAPE).astype(np.float32)
    label = np.zeros(SHAPE, np.int16)
    label[8:14, 8:14, 3:5] = 2  # edema
    label[10:12, 10:12, 4] = 4  # enhancing
    prefix = f"{TOP}/{case}/{case}_1996.09.09"
    files = {
        f"{prefix}_flair.nii.gz": _nifti(flair),
        f"{prefix}_t1.nii.gz": _nifti(flair),  # other modalities are left in the zip
        f"{prefix}_GlistrBoost.nii.gz": _nifti(label),
    }
    if corrected:  # the manually corrected label: a larger tumour
        fixed = label.copy()
        fixed[6:16, 6:16, 2:6] = np.maximum(fixed[6:16, 6:16, 2:6], 1)
        files[f"{prefix}_GlistrBoost_ManuallyCorrected.nii.gz"] = _nifti(fixed)
    return files


def brats_zip(path, cases=("TCGA-CS-4941", "TCGA-CS-4942", "TCGA-DU-7010"), *, drop=None):
    with zipfile.ZipFile(path, "w") as zf:
        for k, case in enumerate(cases):
            for name, data in _volumes(case, k, corrected=k == 0).items():
                if drop is None or drop not in name:
                    zf.writestr(name, data)
    return path


def test_zip_to_sheet_to_slices(tmp_path):
    zpath = brats_zip(tmp_path / "brats.zip")
    md5 = hashlib.md5(zpath.read_bytes()).hexdigest()
    out = tmp_path / "brats"
    table = brats_sheet(zpath, out / "sheet.tsv", out / "cases", md5=md5)
    assert list(table.case_id) == ["TCGA-CS-4941", "TCGA-CS-4942", "TCGA-DU-7010"]
    assert table.manually_corrected.tolist() == [True, False, False]
    assert table.tumour_voxels.tolist() == [10 * 10 * 4, 6 * 6 * 2, 6 * 6 * 2]
    sheet = pd.read_csv(out / "sheet.tsv", sep="\t")
    assert sheet.flair[0] == "cases/TCGA-CS-4941/flair.nii.gz"
    mask = nib.load(out / "cases/TCGA-CS-4942/mask.nii.gz")
    assert mask.get_data_dtype() == np.uint8 and set(np.unique(mask.dataobj)) == {0, 1}
    build_store("nifti", out / "sheet.tsv", tmp_path / "store", SliceOptions(size=16))
    store = SliceStore(tmp_path / "store")
    assert store.index.case_id.nunique() == 3 and len(store.index) == 3 * SHAPE[2]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("md5", "md5 [0-9a-f]{32}, expected 0{32}"),
        ("corrupt", "brats.zip: not a zip archive"),
        ("flair", "TCGA-CS-4942/: no TCGA-CS-4942_<date>_flair.nii.gz"),
        ("label", "TCGA-CS-4942/: no TCGA-CS-4942_<date>_GlistrBoost"),
        ("crc", "cannot extract"),
    ],
)
def test_bad_zips_stop_naming_the_file_and_leave_nothing(tmp_path, fault, message):
    zpath = tmp_path / "brats.zip"
    if fault == "flair":
        brats_zip(zpath, drop="4942_1996.09.09_flair")
    elif fault == "label":
        brats_zip(zpath, drop="4942_1996.09.09_GlistrBoost")
    else:
        brats_zip(zpath)
    data = bytearray(zpath.read_bytes())
    if fault == "corrupt":
        zpath.write_bytes(bytes(data[: len(data) // 3]))
    if fault == "crc":  # flip a byte inside the second patient's FLAIR (stored uncompressed)
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
            info = next(i for i in zf.infolist() if "4942_1996.09.09_flair" in i.filename)
        data[info.header_offset + 30 + len(info.filename) + 40] ^= 0xFF
        zpath.write_bytes(bytes(data))
    md5 = "0" * 32 if fault == "md5" else None
    out = tmp_path / "brats"
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        brats_sheet(zpath, out / "sheet.tsv", out / "cases", md5=md5)
    assert not out.exists() or not any(out.iterdir())


def test_cli_unpack(tmp_path):
    zpath = brats_zip(tmp_path / "brats.zip")
    args = ["imaging", "fetch", "--source", "brats_tcga_lgg", "--out", str(tmp_path / "b")]
    assert main([*args, "--zip", str(zpath)]) == 0
    assert (tmp_path / "b" / "sheet.tsv").is_file()
    assert main(args) == 1  # --zip missing


def test_snakemake_unpacks_the_zip_into_the_store(repo, tmp_path):
    """imaging.source: brats_tcga_lgg through Snakemake: rule imaging_unpack, then the store."""
    import subprocess
    import sys

    import yaml

    config = yaml.safe_load((repo / "config.yaml").read_text())
    zpath = brats_zip(tmp_path / "brats.zip")
    config["imaging"].update(source="brats_tcga_lgg", size=16)
    config["imaging"]["brats"] = {
        "zip": str(zpath),
        "md5": hashlib.md5(zpath.read_bytes()).hexdigest(),
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", "results/imaging/store/index.parquet"]
    cmd += ["-s", str(repo / "Snakefile"), "--cores", "1", "--directory", str(tmp_path)]
    cmd += ["--configfile", str(tmp_path / "config.yaml")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    store = SliceStore(tmp_path / "results/imaging/store")
    assert store.index.case_id.nunique() == 3
    sheet = pd.read_csv(tmp_path / "resources/imaging/brats_tcga_lgg/sheet.tsv", sep="\t")
    assert sheet.manually_corrected.sum() == 1
    assert "CC BY 3.0" in (tmp_path / "logs/imaging/unpack.log").read_text()
