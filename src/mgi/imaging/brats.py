"""BraTS-TCGA-LGG (Bakas et al. 2017, DOI 10.7937/K9/TCIA.2017.GJQ7R0EF, CC BY 3.0) -> NIfTI sheet.

TCIA distributes the package through Aspera, so the user downloads the zip; this turns it into
the sample sheet the NIfTI route reads (``case_id, flair, mask``). The zip holds one folder per
patient, named by TCGA barcode, with ``<case>_<date>_flair.nii.gz`` and the tumour labels
``<case>_<date>_GlistrBoost.nii.gz`` / ``..._GlistrBoost_ManuallyCorrected.nii.gz`` (all
240 x 240 x 155 at 1 mm in a common template space). The mask is label > 0, from the manually
corrected labels where a patient has them. Other modalities are left in the zip.

Output: ``<cases>/<case_id>/flair.nii.gz`` (copied as is), ``<cases>/<case_id>/mask.nii.gz``
(uint8, the label's grid and affine) and the sheet (paths relative to it). The case folders are
written to a temporary folder and renamed into place, the sheet last; a wrong md5, a corrupt zip,
a patient without FLAIR or labels stops before anything is in place, naming the file.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from tqdm import tqdm

from mgi.atomic import atomic_path
from mgi.barcodes import case_barcode
from mgi.checksum import md5_of

log = logging.getLogger(__name__)

LICENCE = "BraTS-TCGA-LGG (Bakas et al. 2017, DOI 10.7937/K9/TCIA.2017.GJQ7R0EF): CC BY 3.0"
_MEMBER = re.compile(
    r"(?:^|/)(?P<case>TCGA-[A-Z0-9]{2}-[A-Z0-9]{4})_[^/]*?_"
    r"(?P<kind>flair|GlistrBoost|GlistrBoost_ManuallyCorrected)\.nii\.gz$",
    re.IGNORECASE,
)


def check_zip(path: str | Path, md5: str | None = None) -> None:
    """Raise naming ``path`` if it is missing, its md5 is not ``md5`` or it is not a zip."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: BraTS-TCGA-LGG zip not found (imaging.brats.zip)")
    if md5 is not None and (actual := md5_of(path)) != md5.lower():
        raise ValueError(f"{path}: md5 {actual}, expected {md5.lower()} (imaging.brats.md5)")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a zip archive (truncated or corrupt download?)")


def case_members(zf: zipfile.ZipFile, where: str | Path) -> dict[str, tuple[str, str]]:
    """``case_id -> (flair member, label member)`` of the zip, the corrected label preferred.

    Raises:
        ValueError: naming the patient folder without FLAIR or label, or with two FLAIRs.
    """
    found: dict[str, dict[str, list[str]]] = {}
    for name in zf.namelist():
        m = _MEMBER.search(name)
        if m:
            kind = m["kind"].lower()
            found.setdefault(case_barcode(m["case"]), {}).setdefault(kind, []).append(name)
    if not found:
        raise ValueError(f"{where}: no <case>_<date>_flair.nii.gz files (not BraTS-TCGA-LGG?)")
    out = {}
    for case, kinds in sorted(found.items()):
        labels = kinds.get("glistrboost_manuallycorrected") or kinds.get("glistrboost") or []
        flairs = kinds.get("flair", [])
        folder = os.path.dirname((flairs or labels)[0])
        if len(flairs) != 1:
            what = "no" if not flairs else f"{len(flairs)}"
            raise ValueError(f"{where}: {folder}/: {what} {case}_<date>_flair.nii.gz")
        if len(labels) != 1:
            what = "no" if not labels else f"{len(labels)}"
            raise ValueError(f"{where}: {folder}/: {what} {case}_<date>_GlistrBoost*.nii.gz label")
        out[case] = (flairs[0], labels[0])
    return out


def _extract(zf: zipfile.ZipFile, member: str, target: Path, where: Path) -> None:
    try:
        with zf.open(member) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, OSError, EOFError) as err:  # bad CRC, truncated member
        raise ValueError(f"{where}: {member}: cannot extract ({err})") from None


def _write_mask(label_path: Path, mask_path: Path, member: str, where: Path) -> int:
    """label > 0 as uint8 on the label's grid; returns the tumour voxel count."""
    try:
        label = nib.load(label_path)
        mask = (np.asanyarray(label.dataobj) > 0).astype(np.uint8)
    except Exception as err:  # nibabel raises several types for corrupt files
        raise ValueError(f"{where}: {member}: cannot read NIfTI ({err})") from None
    header = label.header.copy()
    header.set_data_dtype(np.uint8)
    nib.save(nib.Nifti1Image(mask, label.affine, header), mask_path)
    return int(mask.sum())


def brats_sheet(
    zip_path: str | Path, sheet: str | Path, cases_dir: str | Path, *, md5: str | None = None
) -> pd.DataFrame:
    """Unpack FLAIR + mask of every patient of the BraTS-TCGA-LGG zip; write the sheet."""
    zip_path, sheet, cases_dir = Path(zip_path), Path(sheet), Path(cases_dir)
    check_zip(zip_path, md5)
    log.info(LICENCE)
    rows = []
    with zipfile.ZipFile(zip_path) as zf, atomic_path(cases_dir, directory=True) as tmp:
        members = case_members(zf, zip_path)
        for case, (flair, label) in tqdm(members.items(), desc="BraTS cases", unit="case"):
            (tmp / case).mkdir()
            _extract(zf, flair, tmp / case / "flair.nii.gz", zip_path)
            _extract(zf, label, tmp / case / "label.nii.gz", zip_path)
            voxels = _write_mask(
                tmp / case / "label.nii.gz", tmp / case / "mask.nii.gz", label, zip_path
            )
            (tmp / case / "label.nii.gz").unlink()
            corrected = "ManuallyCorrected" in label
            rows.append((case, flair, label, corrected, voxels))
    rel = os.path.relpath(cases_dir, sheet.parent)
    table = pd.DataFrame(
        {
            "case_id": [r[0] for r in rows],
            "flair": [f"{rel}/{r[0]}/flair.nii.gz" for r in rows],
            "mask": [f"{rel}/{r[0]}/mask.nii.gz" for r in rows],
            "flair_member": [r[1] for r in rows],
            "label_member": [r[2] for r in rows],
            "manually_corrected": [r[3] for r in rows],
            "tumour_voxels": [r[4] for r in rows],
        }
    )
    with atomic_path(sheet) as tmp_sheet:
        table.to_csv(tmp_sheet, sep="\t", index=False)
    n_corr = int(table.manually_corrected.sum())
    log.info("%s: %d patients (%d with manually corrected labels)", sheet, len(table), n_corr)
    return table
