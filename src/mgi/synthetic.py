"""The embedded demo cohort: a generated TCGA-like cohort written in the *real* file formats.

Every later stage runs the same code on this cohort as on real data, so the files are exactly
what the GDC download and a user's imaging folder hold:

``<out>/gdc/files.tsv``, ``<out>/gdc/manifest.tsv``, ``<out>/gdc/<file_id>/<file_name>``
    GDC STAR-Counts TSVs (``# gene-model`` line, the real header, four ``N_*`` rows, versioned
    ENSG ids including ``_PAR_Y`` rows) and the metadata tables the download writes.
``<out>/cases.parquet``
    the clinical table (one row per case barcode), as ``mgi gdc cases`` writes it.
``<out>/imaging/<case>/{flair,mask}.nii.gz`` and ``<out>/imaging/sheet.tsv``
    a FLAIR volume and its tumour mask per patient, with an anisotropic, flipped (LPS-like)
    affine, and the sample sheet ``case_id, flair, mask`` (paths relative to the sheet).
``<out>/markers.parquet``
    the molecular markers as ``mgi gdc markers`` writes them (``idh``, ``codeletion_1p19q``, ...).
``<out>/latent.tsv``
    the planted latent factors (ground truth, for diagnostics only).

The planted signal: ``latent_factors`` per patient drive both gene modules (``module_genes``
genes each) and tumour morphology (hemisphere and position, size, elongation, rim contrast).
Each volume also holds ``decoys`` tumour-like blobs that are not in the mask: the first is the
tumour's mirror image across the brain's midline (same size, shape and contrast), the others
random. So the image alone cannot tell which of two identical blobs is the tumour (at best it
marks both), while the genes can: the subtype ``z0 > 0`` (genes of one chromosome arm
expressed lower, like a 1p/19q loss) picks the hemisphere. A model that uses the genes can
beat the same model without them; with the genes shuffled across patients it cannot.

Labels for Table 2 (the linear probe) follow the factors, so what the image can show is known:
``tumor_grade`` (clinical table) is G3 when ``z2 > 0``, which sets the tumour's size, height and
rim (and a gene module): planted in the images. ``idh`` (markers) is mutant when ``z1 > 0``
(position, elongation, rim; a gene module). ``codeletion_1p19q`` is the subtype ``z0 > 0``: in
the genes, but in the images only as the side, which the mirror decoy hides. ``primary_diagnosis``
is drawn at random: nothing can predict it (a negative control).
Everything is deterministic in ``seed``: the same spec writes the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage
from tqdm import tqdm

from mgi.atomic import atomic_path

log = logging.getLogger(__name__)

STAR_HEADER = (
    "gene_id",
    "gene_name",
    "gene_type",
    "unstranded",
    "stranded_first",
    "stranded_second",
    "tpm_unstranded",
    "fpkm_unstranded",
    "fpkm_uq_unstranded",
)
N_ROWS = ("N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous")
GENE_TYPES = {  # approximate GENCODE v36 proportions
    "protein_coding": 0.33,
    "lncRNA": 0.28,
    "processed_pseudogene": 0.17,
    "unprocessed_pseudogene": 0.04,
    "misc_RNA": 0.04,
    "snRNA": 0.03,
    "miRNA": 0.03,
    "TEC": 0.02,
    "snoRNA": 0.02,
    "transcribed_unprocessed_pseudogene": 0.04,
}
FILES_COLUMNS = (
    "file_id",
    "file_name",
    "md5sum",
    "file_size",
    "case_id",
    "case_submitter_id",
    "sample_submitter_id",
    "sample_type",
)
SPACING_MM = (0.9375, 0.9375, 5.0)


@dataclass(frozen=True)
class DemoSpec:
    """Size and signal of the demo cohort."""

    patients: int = 24  # paired patients (images + RNA-seq)
    genes: int = 2000  # genes per STAR-Counts file (<= 60,660 in real files)
    slices: int = 24  # axial slices per volume
    size: int = 128  # in-plane voxels per side
    seed: int = 7  # everything is drawn from this seed
    latent_factors: int = 3  # factors shared by genes and tumour morphology
    module_genes: int = 200  # genes driven by each factor
    decoys: int = 1  # blobs that are not tumour: the tumour's mirror image, then random ones
    contrast: float = 0.5  # tumour core brightness over brain, relative
    noise: float = 0.10  # voxel noise, relative to brain intensity
    recurrent_cases: int = 2  # cases that also have a Recurrent Tumor aliquot
    expression_only_cases: int = 2  # cases with RNA-seq but no images (unpaired)
    imaging_only_cases: int = 1  # cases with images but no RNA-seq (unpaired)
    module_effect: float = 1.5  # log2 fold change of module genes per unit of their factor

    def __post_init__(self) -> None:
        if self.patients < 2 or self.genes < 10 or self.slices < 4 or self.size < 16:
            raise ValueError(f"demo spec too small: {self}")
        if self.latent_factors * self.module_genes > self.genes:
            raise ValueError(
                f"demo: latent_factors * module_genes = {self.latent_factors * self.module_genes}"
                f" exceeds genes = {self.genes}"
            )


def _uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def gene_table(n_genes: int, rng: np.random.Generator) -> pd.DataFrame:
    """Versioned ENSG ids, names and GENCODE types; one pseudo-autosomal ``_PAR_Y`` twin."""
    n_regular = n_genes - 1
    numbers = np.sort(rng.choice(np.arange(3, 300_000), size=n_regular, replace=False))
    versions = rng.integers(1, 20, size=n_regular)
    ids = [f"ENSG{n:011d}.{v}" for n, v in zip(numbers, versions, strict=True)]
    names = [f"DEMO{n}" for n in numbers]
    kinds = list(GENE_TYPES)
    p = np.array(list(GENE_TYPES.values()))
    types = list(rng.choice(kinds, size=n_regular, p=p / p.sum()))
    par = min(5, n_regular - 1)  # the PAR_Y twin sits right after its X copy, as in GENCODE
    ids.insert(par + 1, ids[par] + "_PAR_Y")
    names.insert(par + 1, names[par])
    types.insert(par + 1, types[par])
    return pd.DataFrame({"gene_id": ids, "gene_name": names, "gene_type": types})


def latent(spec: DemoSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Latent factors, ``(n, latent_factors)``, standard normal."""
    return rng.standard_normal((n, spec.latent_factors))


def log_expression(spec: DemoSpec, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """log2 abundance per patient and gene, ``(n, genes)``: baseline + factor modules + noise.

    Module 0 is the *subtype* ``z0 > 0`` (a binary molecular class): genes of a chromosome
    arm expressed lower, like the 1p/19q codeletion in LGG; the subtype also picks the tumour's
    hemisphere. STAR-Counts files list genes by Ensembl id, not by position, so the lost arm's
    genes lie scattered through the file (and through every group of genes the encoder pools).
    The other modules follow their factor linearly.
    """
    n = z.shape[0]
    base = rng.normal(2.0, 2.5, size=spec.genes)
    silent = rng.random(spec.genes) < 0.25  # genes not expressed in this tissue
    x = base + rng.normal(0.0, 0.4, size=(n, spec.genes))
    expressed = np.flatnonzero(~silent)
    block = np.sort(rng.choice(expressed, size=spec.module_genes, replace=False))  # the lost arm
    rest = rng.permutation(np.setdiff1d(expressed, block))
    for k in range(spec.latent_factors):
        if k == 0:  # the subtype: one chromosome arm expressed lower (1p/19q-like loss)
            idx, sign, drive = block, -1.0, (z[:, [0]] > 0).astype(float)
        else:
            idx = rest[(k - 1) * spec.module_genes : k * spec.module_genes]
            sign, drive = rng.choice([-1.0, 1.0], size=idx.size), z[:, [k]]
        x[:, idx] += spec.module_effect * sign * drive
    x[:, silent] = -20.0  # 2**-20: no reads
    return x


def star_counts_table(
    genes: pd.DataFrame, log2_abundance: np.ndarray, lengths: np.ndarray, rng: np.random.Generator
) -> str:
    """One STAR-Counts TSV (text) from one patient's log2 abundances."""
    depth = rng.uniform(2e7, 4e7)
    weight = np.exp2(log2_abundance) * lengths
    counts = rng.poisson(weight / weight.sum() * depth)
    par_y = genes["gene_id"].str.endswith("_PAR_Y").to_numpy()
    counts[par_y] = 0
    first = rng.binomial(counts, 0.5)
    rate = counts / lengths
    tpm = rate / rate.sum() * 1e6
    fpkm = counts * 1e9 / (lengths * max(counts.sum(), 1))
    coding = (genes["gene_type"] == "protein_coding").to_numpy()
    uq = max(np.percentile(counts[coding], 75), 1.0)
    fpkm_uq = counts * 1e9 / (lengths * uq)
    body = pd.DataFrame(
        {
            **genes,
            "unstranded": counts,
            "stranded_first": first,
            "stranded_second": counts - first,
            "tpm_unstranded": np.round(tpm, 4),
            "fpkm_unstranded": np.round(fpkm, 4),
            "fpkm_uq_unstranded": np.round(fpkm_uq, 4),
        }
    )
    n_counts = rng.integers(5e5, 4e6, size=(4, 3))
    n_lines = "".join(
        f"{name}\t\t\t" + "\t".join(map(str, row)) + "\t\t\t\n"
        for name, row in zip(N_ROWS, n_counts, strict=True)
    )
    table = body.to_csv(sep="\t", index=False, header=False, float_format="%.4f")
    return "# gene-model: GENCODE v36\n" + "\t".join(STAR_HEADER) + "\n" + n_lines + table


def morphology(z: np.ndarray, spec: DemoSpec) -> dict[str, float]:
    """Tumour shape of one patient from its latent factors (sizes in voxels / mm)."""
    z0, z1, z2 = (list(z) + [0.0, 0.0, 0.0])[:3]
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    a_mm = (0.11 + 0.03 * np.tanh(z2)) * spec.size * SPACING_MM[0]
    elong = 1.0 + 0.8 * sig(z1 - z2)  # no z0 here: the blobs' shape must not hint at the side
    return {
        # the hemisphere is sign(z0); the tumour stays off the midline so its mirror is distinct
        "cx": spec.size * (0.5 + np.sign(z0 + 1e-12) * (0.19 + 0.05 * np.tanh(abs(z0)))),
        "cy": spec.size * (0.5 + 0.15 * np.tanh(z1)),
        "cz": spec.slices * (0.5 + 0.12 * np.tanh(z2)),
        "a_mm": a_mm,
        "b_mm": a_mm / elong,
        "c_mm": max(a_mm * 1.2, 2.4 * SPACING_MM[2]),
        "theta": 0.0,  # axis-aligned: the mirror image has exactly the tumour's shape
        "rim": 0.08 + 0.14 * sig(z1 + z2),
    }


def _ellipsoid(shape, centre, axes_mm, theta):
    """Boolean ellipsoid and normalised radius on a voxel grid with ``SPACING_MM``."""
    i, j, k = np.meshgrid(*(np.arange(s, dtype=np.float32) for s in shape), indexing="ij")
    x = (i - centre[0]) * SPACING_MM[0]
    y = (j - centre[1]) * SPACING_MM[1]
    zz = (k - centre[2]) * SPACING_MM[2]
    c, s = np.cos(theta), np.sin(theta)
    u, v = c * x + s * y, -s * x + c * y
    r = np.sqrt((u / axes_mm[0]) ** 2 + (v / axes_mm[1]) ** 2 + (zz / axes_mm[2]) ** 2)
    return r


def volume(spec: DemoSpec, shape: dict[str, float], rng: np.random.Generator):
    """FLAIR volume (int16) and tumour mask (uint8), both ``(size, size, slices)``."""
    grid = (spec.size, spec.size, spec.slices)
    brain_r = _ellipsoid(
        grid,
        ((spec.size - 1) / 2, spec.size / 2, spec.slices / 2),  # x: flipping the grid mirrors it
        (
            0.42 * spec.size * SPACING_MM[0],
            0.36 * spec.size * SPACING_MM[1],
            0.62 * spec.slices * SPACING_MM[2],
        ),
        0.0,
    )
    brain = brain_r <= 1.0
    texture = ndimage.gaussian_filter(rng.standard_normal(grid), sigma=(6, 6, 1.5))
    texture /= texture.std() + 1e-8
    img = np.where(brain, 1.0 + 0.06 * texture, 0.0)
    r = _ellipsoid(
        grid,
        (shape["cx"], shape["cy"], shape["cz"]),
        (shape["a_mm"], shape["b_mm"], shape["c_mm"]),
        shape["theta"],
    )
    tumour = (r <= 1.0) & brain
    img += np.where(tumour, spec.contrast, 0.0)
    img += np.where(tumour & (r > 0.75), shape["rim"], 0.0)
    if spec.decoys > 0:  # the mirror image across the midline: only the genes tell them apart
        rm = r[::-1]
        mirror = (rm <= 1.0) & brain & ~tumour
        img += np.where(mirror, spec.contrast, 0.0)
        img += np.where(mirror & (rm > 0.75), shape["rim"], 0.0)
    for _ in range(spec.decoys - 1):  # random tumour-like blobs the mask does not hold
        centre = (
            rng.uniform(0.25, 0.75) * spec.size,
            rng.uniform(0.25, 0.75) * spec.size,
            rng.uniform(0.3, 0.7) * spec.slices,
        )
        a = rng.uniform(0.06, 0.14) * spec.size * SPACING_MM[0]
        rd = _ellipsoid(
            grid,
            centre,
            (a, a / rng.uniform(1.0, 1.8), max(a * 1.2, 2.4 * SPACING_MM[2])),
            rng.uniform(-1, 1),
        )
        img += np.where((rd <= 1.0) & brain & ~tumour, spec.contrast, 0.0)
        img += np.where((rd <= 1.0) & (rd > 0.75) & brain & ~tumour, rng.uniform(0.08, 0.22), 0.0)
    img += spec.noise * rng.standard_normal(grid) * np.where(brain, 1.0, 0.3)
    flair = np.clip(np.round(img * 400.0), 0, 32767).astype(np.int16)
    return flair, tumour.astype(np.uint8)


def affine(spec: DemoSpec) -> np.ndarray:
    """An LPS-like scanner affine: flipped in-plane axes, anisotropic spacing, an offset."""
    aff = np.diag([-SPACING_MM[0], -SPACING_MM[1], SPACING_MM[2], 1.0])
    aff[:3, 3] = [
        spec.size * SPACING_MM[0] / 2,
        spec.size * SPACING_MM[1] / 2 - 12.0,
        -spec.slices * SPACING_MM[2] / 2,
    ]
    return aff


def _write_nifti(path: Path, data: np.ndarray, aff: np.ndarray) -> None:
    img = nib.Nifti1Image(data, aff)
    img.header.set_xyzt_units("mm", "sec")
    img.set_qform(aff, code=1)
    img.set_sform(aff, code=1)
    path.write_bytes(gzip.compress(img.to_bytes(), mtime=0))  # mtime=0: same seed, same bytes


def markers(cases: list[str], z: np.ndarray) -> pd.DataFrame:
    """The demo's molecular markers, in the columns of :mod:`mgi.gdc.markers` (no draws)."""
    codeleted = z[:, 0] > 0
    mutant = z[:, min(1, z.shape[1] - 1)] > 0
    return pd.DataFrame(
        {
            "case_submitter_id": cases,
            "idh": np.where(mutant, "mutant", "wildtype"),
            "idh_mutations": np.where(mutant, "IDH1 R132H", None),
            "codeletion_1p19q": np.where(codeleted, "codeleted", "non-codeleted"),
            "loss_1p": codeleted.astype(float),
            "loss_19q": codeleted.astype(float),
        }
    ).astype({"case_submitter_id": "string", "idh": "string", "idh_mutations": "string",
              "codeletion_1p19q": "string"})  # fmt: skip


def _barcodes(n: int) -> list[str]:
    return [f"TCGA-DM-{i:04d}" for i in range(1, n + 1)]


def synthesize(spec: DemoSpec, out_dir: str | Path) -> Path:
    """Write the demo cohort to ``out_dir`` (replaced atomically). Returns ``out_dir``."""
    out_dir = Path(out_dir)
    rng = np.random.default_rng(spec.seed)
    n_total = spec.patients + spec.expression_only_cases + spec.imaging_only_cases
    cases = _barcodes(n_total)
    z = latent(spec, n_total, rng)
    paired = cases[: spec.patients]
    expr_cases = paired + cases[spec.patients : spec.patients + spec.expression_only_cases]
    img_cases = paired + cases[spec.patients + spec.expression_only_cases :]
    genes = gene_table(spec.genes, rng)
    lengths = np.exp(rng.normal(7.5, 0.8, size=spec.genes)).round() + 50
    logx = log_expression(spec, z, rng)
    case_ids = {c: _uuid(rng) for c in cases}
    with atomic_path(out_dir, directory=True) as tmp:
        gdc = tmp / "gdc"
        gdc.mkdir()
        rows = []
        aliquots = [(c, "01A", "Primary Tumor", 0.0) for c in expr_cases]
        aliquots += [(c, "02A", "Recurrent Tumor", 0.5) for c in expr_cases[: spec.recurrent_cases]]
        for case, code, sample_type, extra_noise in tqdm(
            aliquots, desc="demo RNA-seq", unit="file"
        ):
            i = cases.index(case)
            x = logx[i] + rng.normal(0.0, extra_noise, size=spec.genes) * (logx[i] > -20)
            text = star_counts_table(genes, x, lengths, rng).encode()
            file_id = _uuid(rng)
            file_name = f"{_uuid(rng)}.rna_seq.augmented_star_gene_counts.tsv"
            (gdc / file_id).mkdir()
            (gdc / file_id / file_name).write_bytes(text)
            rows.append(
                (
                    file_id,
                    file_name,
                    hashlib.md5(text).hexdigest(),
                    len(text),
                    case_ids[case],
                    case,
                    f"{case}-{code}",
                    sample_type,
                )
            )
        files = pd.DataFrame(rows, columns=list(FILES_COLUMNS))
        files.to_csv(gdc / "files.tsv", sep="\t", index=False)
        manifest = files.rename(
            columns={"file_id": "id", "file_name": "filename", "md5sum": "md5", "file_size": "size"}
        )
        manifest["state"] = "released"
        manifest[["id", "filename", "md5", "size", "state"]].to_csv(
            gdc / "manifest.tsv", sep="\t", index=False
        )
        clinical = pd.DataFrame(
            {
                "case_submitter_id": cases,
                "case_id": [case_ids[c] for c in cases],
                "project_id": "TCGA-LGG",
                "gender": rng.choice(["female", "male"], size=n_total),
                "age_at_diagnosis": rng.integers(20 * 365, 75 * 365, size=n_total),
                "vital_status": rng.choice(["Alive", "Dead"], size=n_total, p=[0.7, 0.3]),
                "primary_diagnosis": rng.choice(
                    ["Astrocytoma, NOS", "Oligodendroglioma, NOS", "Mixed glioma"], size=n_total
                ),
                "tumor_grade": np.where(z[:, min(2, spec.latent_factors - 1)] > 0, "G3", "G2"),
            }
        )
        clinical.to_parquet(tmp / "cases.parquet", index=False)
        imaging = tmp / "imaging"
        sheet = []
        aff = affine(spec)
        for case in tqdm(img_cases, desc="demo FLAIR", unit="volume"):
            flair, mask = volume(spec, morphology(z[cases.index(case)], spec), rng)
            (imaging / case).mkdir(parents=True)
            _write_nifti(imaging / case / "flair.nii.gz", flair, aff)
            _write_nifti(imaging / case / "mask.nii.gz", mask, aff)
            sheet.append((case, f"{case}/flair.nii.gz", f"{case}/mask.nii.gz"))
        pd.DataFrame(sheet, columns=["case_id", "flair", "mask"]).to_csv(
            imaging / "sheet.tsv", sep="\t", index=False
        )
        markers(cases, z).to_parquet(tmp / "markers.parquet", index=False)
        lat = pd.DataFrame(z, columns=[f"z{k}" for k in range(spec.latent_factors)])
        lat.insert(0, "case_id", cases)
        lat.to_csv(tmp / "latent.tsv", sep="\t", index=False, float_format="%.6f")
    log.info(
        "demo cohort: %d paired patients, %d genes, %d RNA-seq files -> %s",
        spec.patients,
        spec.genes,
        len(rows),
        out_dir,
    )
    return out_dir
