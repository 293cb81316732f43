"""Bundles and ``mgi predict``: a tiny run exported, predicted on its test patients renamed and
given as new patients, checked against the pipeline's own numbers."""

from __future__ import annotations

import json
import zipfile

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
from bundle_inputs import CONFIG, make_run, new_patient_sheet, pipeline_probabilities, save_tiny


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_demo):
    root = tmp_path_factory.mktemp("run")
    out = make_run(root, tiny_demo)
    for name, dropout in [("mgi", False), ("mgi", True), ("image_only", False)]:
        folder = root / "finetune" / (name + ("_dropout" if dropout else ""))
        save_tiny(
            folder / "model.pt", name, n_genes=out["n_genes"], size=out["size"], no_genes=dropout
        )
    return out


def export(run_dir, name, out, config=CONFIG):
    from mgi.bundle.export import ModelFiles, export_bundle

    r = run_dir["root"]
    model = ModelFiles(
        "holdout", r / "finetune" / name / "model.pt", r / "genes.tsv", r / "zscore.parquet"
    )
    return export_bundle(
        out, run=name, models=[model], store_meta=r / "store" / "store.json", config=config
    )


def test_predict_reproduces_the_pipeline(run_dir, tiny_demo, tmp_path):
    from mgi.bundle.predict import predict_sheet
    from mgi.evaluate import per_patient

    bundle = export(run_dir, "mgi", tmp_path / "mgi.zip")
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        meta = json.loads(zf.read("configs/metadata.json"))
    assert {
        "configs/metadata.json",
        "docs/README.md",
        "LICENSE",
        "models/holdout/model.pt",
        "models/holdout/genes.tsv",
        "models/holdout/zscore.parquet",
    } <= names
    assert meta["mgi"]["needs_genes"] and meta["mgi"]["threshold"] == 0.5
    sheet = new_patient_sheet(run_dir, tiny_demo, tmp_path / "new")
    table = predict_sheet(bundle, sheet, tmp_path / "pred")
    store, test, prob = pipeline_probabilities(run_dir, run_dir["root"] / "finetune/mgi/model.pt")
    truth = per_patient(store, test.rows, prob.astype(np.float32), threshold=0.5)
    for k, case in enumerate(run_dir["test"], start=1):
        pid = f"PT{k:03d}"
        mine = np.load(tmp_path / "pred" / pid / "prob.npz")["prob"]
        theirs = prob[store.index["case_id"].to_numpy()[test.rows] == case]
        np.testing.assert_allclose(mine.astype(np.float32), theirs.astype(np.float32), atol=1e-5)
        flair = nib.load(tmp_path / "new" / pid / "flair.nii.gz")
        mask = nib.load(tmp_path / "pred" / pid / "mask.nii.gz")
        assert mask.shape == flair.shape and np.allclose(mask.affine, flair.affine)
        row = table.set_index("case_id").loc[pid]
        assert row.dice == pytest.approx(truth.set_index("case_id").loc[case, "dice"])
        assert row.genes_used and row.missing_genes == 0
        assert row.tumour_voxels == int(np.asarray(mask.dataobj).sum())
        zooms = np.prod(flair.header.get_zooms()[:3])
        assert row.tumour_ml == pytest.approx(row.tumour_voxels * zooms / 1000)
        assert (tmp_path / "pred" / pid / "qc.png").is_file()
    assert {"dice", "hd95"} <= set(table.columns)
    saved = pd.read_csv(tmp_path / "pred" / "predictions.tsv", sep="\t")
    assert list(saved.case_id) == ["PT001", "PT002"]


def test_a_gene_model_stops_on_a_row_without_expression(run_dir, tiny_demo, tmp_path):
    from mgi.bundle.predict import Options, predict_sheet

    bundle = export(run_dir, "mgi", tmp_path / "mgi.zip")
    sheet = new_patient_sheet(run_dir, tiny_demo, tmp_path / "new", expression=False)
    with pytest.raises(ValueError, match="case PT001: no expression file.*needs RNA-seq"):
        predict_sheet(bundle, sheet, tmp_path / "pred")
    assert not (tmp_path / "pred" / "predictions.tsv").exists()
    table = predict_sheet(bundle, sheet, tmp_path / "pred2", Options(keep_going=True))
    assert table.empty
    skipped = pd.read_csv(tmp_path / "pred2" / "skipped.tsv", sep="\t")
    assert list(skipped.case_id) == ["PT001", "PT002"]


def test_a_gene_dropout_model_predicts_without_genes(run_dir, tiny_demo, tmp_path):
    from mgi.bundle.predict import predict_sheet

    bundle = export(run_dir, "mgi_dropout", tmp_path / "d.zip")
    sheet = new_patient_sheet(run_dir, tiny_demo, tmp_path / "new", expression=False)
    table = predict_sheet(bundle, sheet, tmp_path / "pred")
    assert not table.genes_used.any()
    _, _, prob = pipeline_probabilities(
        run_dir, run_dir["root"] / "finetune/mgi_dropout/model.pt", with_genes=False
    )
    mine = np.concatenate(
        [np.load(tmp_path / "pred" / p / "prob.npz")["prob"] for p in ("PT001", "PT002")]
    )
    np.testing.assert_allclose(mine.astype(np.float32), prob.astype(np.float32), atol=1e-5)


def test_bad_rows_name_the_case_and_file(run_dir, tiny_demo, tmp_path):
    from mgi.bundle.predict import Options, predict_sheet

    bundle = export(run_dir, "mgi", tmp_path / "mgi.zip")
    sheet = new_patient_sheet(run_dir, tiny_demo, tmp_path / "new")
    (tmp_path / "new" / "PT002" / "rna.tsv").write_text("gene_id\ttpm\nENSG1\tabc\n")
    with pytest.raises(ValueError, match=r"case PT002: .*rna.tsv: line 2, column tpm"):
        predict_sheet(bundle, sheet, tmp_path / "pred")
    (tmp_path / "new" / "PT001" / "flair.nii.gz").unlink()
    table = predict_sheet(bundle, sheet, tmp_path / "pred", Options(keep_going=True))
    assert table.empty
    reasons = pd.read_csv(tmp_path / "pred" / "skipped.tsv", sep="\t").reason.tolist()
    assert "PT001" in reasons[0] and "flair.nii.gz" in reasons[0]


def test_genes_match_without_version_and_missing_share_is_limited(tmp_path):
    from mgi.bundle.genes import match_genes, read_expression, strip_version

    assert strip_version("ENSG00000002586.20_PAR_Y") == "ENSG00000002586_PAR_Y"
    path = tmp_path / "two.csv"
    path.write_text("gene_id,tpm\nENSG1.3,3\nENSG2,0\nENSG3.1,7\n")
    values = read_expression(path)
    ids = ["ENSG1.1", "ENSG2.9", "ENSG3.2", "ENSG4.1"]
    mean, std = np.ones(4, np.float32), np.full(4, 2, np.float32)
    m = match_genes(values, ids, mean, std, path=path, max_missing=0.25)
    assert m.missing == 0.25
    np.testing.assert_allclose(m.zscored, [(2 - 1) / 2, -0.5, (3 - 1) / 2, 0.0])
    with pytest.raises(ValueError, match="two.csv: 1 of the model's 4 genes .* limit 10%"):
        match_genes(values, ids, mean, std, path=path, max_missing=0.1)


def test_kaggle_folder_gets_mask_tiffs(run_dir, tmp_path):
    import tifffile

    from mgi.bundle.predict import predict_sheet

    bundle = export(run_dir, "image_only", tmp_path / "io.zip")
    folder = tmp_path / "case_a"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for n in (1, 2, 10):
        tifffile.imwrite(folder / f"case_a_{n}.tif", rng.integers(0, 255, (40, 40, 3), np.uint8))
        tifffile.imwrite(folder / f"case_a_{n}_mask.tif", np.zeros((40, 40), np.uint8))
    (tmp_path / "s.csv").write_text("case_id,flair\nA-1,case_a\n")
    table = predict_sheet(bundle, tmp_path / "s.csv", tmp_path / "pred")
    out = sorted(p.name for p in (tmp_path / "pred" / "A-1" / "mask").iterdir())
    assert out == ["case_a_10_mask.tif", "case_a_1_mask.tif", "case_a_2_mask.tif"]
    assert tifffile.imread(tmp_path / "pred" / "A-1" / "mask" / out[0]).shape == (40, 40)
    assert not table.genes_used.any() and np.isnan(table.tumour_ml).all()
    assert "dice" in table  # masks beside the slices


def test_kaggle_trained_weights_carry_the_data_licence(run_dir, tmp_path):
    config = {**CONFIG, "imaging": {"source": "kaggle", "format": "kaggle_3m"}}
    bundle = export(run_dir, "image_only", tmp_path / "k.zip", config)
    with zipfile.ZipFile(bundle) as zf:
        meta = json.loads(zf.read("configs/metadata.json"))
        card = zf.read("docs/README.md").decode()
        licence = zf.read("LICENSE").decode()
    assert meta["license"] == "CC BY-NC-SA 4.0"
    assert "CC BY-NC-SA 4.0" in card and "CC BY-NC-SA 4.0" in licence
    assert "non-commercial" in licence


def test_no_genes_token_replaces_dropped_items():
    from bundle_inputs import TINY_MODEL

    from mgi.models import build_segmentation_model

    net = build_segmentation_model(
        "mgi", img_size=32, n_genes=64, no_genes_token=True, **TINY_MODEL
    ).eval()
    with torch.no_grad():
        net.no_genes.normal_()
    images, genes = torch.rand(2, 1, 32, 32), torch.randn(2, 64)
    with torch.no_grad():
        dropped = net(images, genes, torch.tensor([True, False]))
        torch.testing.assert_close(dropped[0], net(images, None)[0])
        torch.testing.assert_close(dropped[1], net(images, genes)[1])


def test_external_table_reuses_table1(tmp_path):
    from mgi.bundle.external import evaluate_predictions, external_table1
    from mgi.tables import TABLE1_RUNS

    rng = np.random.default_rng(0)
    summaries, per_patient = {}, {}
    for k, run in enumerate(TABLE1_RUNS):
        d = tmp_path / run
        d.mkdir()
        n = 6
        pd.DataFrame(
            {
                "case_id": [f"P{i}" for i in range(n)],
                "tumour_voxels": 10,
                "tumour_ml": 0.1,
                "genes_used": run.startswith("mgi"),
                "missing_genes": 0.0,
                "n_models": 1,
                "n_slices": 4,
                "n_tumour_slices": 2,
                "tumour_pixels": 20,
                "pred_pixels": 18,
                "dice": np.clip(0.5 + 0.05 * k + rng.normal(0, 0.02, n), 0, 1),
                "dice_slice": 0.5,
                "dice_slice_all": 0.7,
                "hd95": 2.0,
            }
        ).to_csv(d / "predictions.tsv", sep="\t", index=False)
        summaries[run], per_patient[run] = d / "summary.json", d / "per_patient.csv"
        evaluate_predictions(
            d / "predictions.tsv",
            per_patient_out=per_patient[run],
            summary_out=summaries[run],
            run=run,
            n_resamples=200,
        )
    table = external_table1(
        "ext",
        summaries,
        per_patient,
        tmp_path / "external_ext",
        bootstrap={"n_resamples": 200, "confidence": 0.95, "seed": 0},
    )
    csv = pd.read_csv(tmp_path / "external_ext.csv")
    assert list(csv.method) == list(TABLE1_RUNS) and "dice_vs_image_only" in csv
    assert csv.set_index("method").loc["mgi", "dice_vs_image_only"] == pytest.approx(0.05, abs=0.03)
    md = (tmp_path / "external_ext.md").read_text()
    assert md.startswith("## External cohort ext") and "external cohort ext" in md
    assert len(table) == len(TABLE1_RUNS)


def test_table1_adds_the_no_genes_row(tmp_path):
    from mgi.tables import TABLE1_RUNS, table1

    summary = {
        "metrics": {
            "dice": 0.5,
            "dice_ci_low": 0.4,
            "dice_ci_high": 0.6,
            "dice_slice": 0.5,
            "dice_slice_all": 0.6,
            "hd95": 2.0,
            "n_test_patients": 3,
        }
    }
    paths = {}
    for run in (*TABLE1_RUNS, "mgi_no_genes"):
        paths[run] = tmp_path / f"{run}.json"
        paths[run].write_text(json.dumps(summary))
    table = table1(paths, tmp_path / "t1")
    assert table.method.iloc[-1] == "mgi (no genes at test)" and len(table) == 8


def test_sample_sheets_take_any_case_id(tmp_path):
    from mgi.imaging.nifti import read_sheet

    (tmp_path / "s.tsv").write_text(
        "case_id\tflair\tmask\nPT001\ta.nii.gz\tb.nii.gz\nTCGA-CS-4941-01A\tc.nii.gz\td.nii.gz\n"
    )
    assert read_sheet(tmp_path / "s.tsv").case_id.tolist() == ["PT001", "TCGA-CS-4941"]
    (tmp_path / "bad.tsv").write_text("case_id\tflair\tmask\na/b\tx\ty\n")
    with pytest.raises(ValueError, match="bad.tsv: case id 'a/b'"):
        read_sheet(tmp_path / "bad.tsv")
    (tmp_path / "nomask.tsv").write_text("case_id\tflair\nPT001\ta.nii.gz\n")
    with pytest.raises(ValueError, match="lacks columns \\['mask'\\] \\(training needs"):
        read_sheet(tmp_path / "nomask.tsv")


def test_gene_dropout_trains_a_no_genes_token(tmp_path):
    from train_inputs import make_inputs

    from mgi.models import build_pretrain_model
    from mgi.train.finetune import Run, build_segmentation_model, finetune
    from mgi.train.no_genes import predict_test_without_genes
    from mgi.train.specs import FinetuneSpec, Optim

    inputs = make_inputs(tmp_path / "in")
    model = {
        "image": {"preset": "tiny", "patch_size": 8, "depth": 1},
        "genes": {"d_model": 8, "layers": 1, "patch_size": 4, "d_state": 4},
        "fusion": {"gene_tokens": 2, "heads": 2, "depth": 1, "dim": 16, "mlp_dim": 16},
    }
    pre = build_pretrain_model(n_genes=20, img_size=16, embed_dim=8, **model)
    torch.save({"state_dict": pre.state_dict()}, tmp_path / "pre.pt")
    files = (inputs["store"], inputs["matrix"], inputs["zscore"], inputs["split"])
    out = tmp_path / "mgi"
    spec = FinetuneSpec(batch_size=4, gene_dropout=0.5, augment={"flip_lr": 0, "affine": 0})
    opt = Optim(epochs=2, lr=1e-2, warmup_epochs=0, seed=0, device="cpu")
    net = finetune(
        *files,
        run=Run.parse("mgi", "mamba"),
        pretrained=tmp_path / "pre.pt",
        out_dir=out,
        ckpt_dir=tmp_path / "ck",
        spec=spec,
        opt=opt,
        model=model,
    )
    saved = torch.load(out / "model.pt", weights_only=False)
    assert saved["no_genes_token"] and saved["provenance"]["config"]["spec"]["gene_dropout"] == 0.5
    torch.manual_seed(0)  # the token as finetune initialised it (seed 0): training moved it
    init = build_segmentation_model(
        Run.parse("mgi", "mamba"), n_genes=20, img_size=16, model=model, no_genes_token=True
    ).no_genes
    assert not torch.equal(init, net.no_genes.detach())
    predict_test_without_genes(out / "model.pt", *files, tmp_path / "ng.npz", device="cpu")
    with_genes = np.load(out / "predictions.npz")
    without = np.load(tmp_path / "ng.npz")
    assert np.array_equal(with_genes["rows"], without["rows"])
    assert not np.array_equal(with_genes["prob"], without["prob"])


def test_an_ensemble_averages_its_fold_models(run_dir, tiny_demo, tmp_path):
    from mgi.bundle.export import ModelFiles, export_bundle
    from mgi.bundle.predict import predict_sheet

    r = run_dir["root"]
    folds = [
        ModelFiles(
            f"fold{k}", r / "finetune" / name / "model.pt", r / "genes.tsv", r / "zscore.parquet"
        )
        for k, name in enumerate(("mgi", "mgi_dropout"))
    ]
    bundle = export_bundle(
        tmp_path / "cv.zip",
        run="mgi",
        models=folds,
        store_meta=r / "store" / "store.json",
        config=CONFIG,
    )
    with zipfile.ZipFile(bundle) as zf:
        meta = json.loads(zf.read("configs/metadata.json"))
    assert [m["name"] for m in meta["mgi"]["models"]] == ["fold0", "fold1"]
    assert meta["mgi"]["ensemble"].startswith("mean")
    sheet = new_patient_sheet(run_dir, tiny_demo, tmp_path / "new")
    table = predict_sheet(bundle, sheet, tmp_path / "pred")
    assert (table.n_models == 2).all()
    probs = [
        pipeline_probabilities(run_dir, r / "finetune" / n / "model.pt")[2]
        for n in ("mgi", "mgi_dropout")
    ]
    mean = (probs[0].astype(np.float32) + probs[1].astype(np.float32)) / 2
    mine = np.concatenate(
        [np.load(tmp_path / "pred" / p / "prob.npz")["prob"] for p in ("PT001", "PT002")]
    )
    np.testing.assert_allclose(mine.astype(np.float32), mean, atol=2e-3)  # float16 rounding
