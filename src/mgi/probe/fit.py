"""The linear probe: which labels can a frozen feature set tell, on patients it never saw?

Per (label, feature set): scikit-learn's ``LogisticRegressionCV`` behind a ``StandardScaler``,
fitted on the split's *training* patients only (``train`` and ``val``: neither is scored), its
inverse regularisation ``C`` chosen by stratified k-fold cross-validation *inside* those patients
(log-loss, balanced class weights), then applied to the test patients. The scaler is part of the
pipeline, so its statistics come from the training patients too. Test patients enter nothing but
the final ``predict_proba``.

Each row of the predictions table is one test patient of one (label, features): ``y_true``, the
predicted class, the class probabilities (``classes`` and ``proba``, ``|``-separated, same
order), the chosen ``C``, the training patients' count and a digest of the fitted coefficients
(the leakage test checks that changing test patients changes neither).
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from tqdm import tqdm

log = logging.getLogger(__name__)

TRAIN_SIDES = ("train", "val")  # patients the probe may learn from; "test" is scored
PREDICTION_COLUMNS = [
    "label",
    "features",
    "fold",
    "case_id",
    "y_true",
    "y_pred",
    "classes",
    "proba",
    "C",
    "n_train",
    "coef_digest",
]


def _digest(model) -> str:
    lr = model[-1]
    data = np.concatenate([lr.coef_.ravel(), lr.intercept_.ravel()]).round(10)
    return hashlib.sha1(data.tobytes()).hexdigest()[:16]


def fit_one(x_train, y_train, *, inner_folds: int, cs: np.ndarray, seed: int):
    """The scaler + logistic regression pipeline, ``C`` chosen by CV on the training rows only."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    smallest = int(pd.Series(y_train).value_counts().min())
    folds = StratifiedKFold(n_splits=min(inner_folds, smallest), shuffle=True, random_state=seed)
    model = make_pipeline(
        StandardScaler(),
        LogisticRegressionCV(
            Cs=cs,
            cv=folds,
            scoring="neg_log_loss",
            class_weight="balanced",
            max_iter=5000,
            n_jobs=1,
        ),
    )
    with warnings.catch_warnings():  # a C at the weak end of the grid may not converge
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)  # sklearn 1.8+: l1_ratios, attributes
        model.fit(x_train, y_train)
    return model


def probe(
    embeddings: Mapping[str, tuple[list[str], np.ndarray]],
    labels: pd.DataFrame,
    label_names: list[str],
    split: pd.DataFrame,
    *,
    fold: int = 0,
    inner_folds: int = 5,
    cs: np.ndarray | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Test-patient predictions of every (label, feature set) (:data:`PREDICTION_COLUMNS`).

    ``embeddings``: features name -> (case ids, (P, C) array); ``labels``: ``case_id`` + one
    column per label; ``split``: the fold's ``split.tsv`` (``case_id``, ``split``).
    """
    cs = np.logspace(-4, 2, 13) if cs is None else np.asarray(cs, float)
    side = split.set_index("case_id")["split"]
    train_cases = set(side.index[side.isin(TRAIN_SIDES)])
    test_cases = set(side.index[side == "test"])
    values = labels.set_index("case_id")
    rows = []
    index = {}  # features -> {case: row of its embedding array}
    for features, (cases, _) in embeddings.items():
        unknown = (train_cases | test_cases) - set(cases)
        if unknown:
            raise ValueError(f"{features}: no embedding for patients {sorted(unknown)[:5]}")
        index[features] = {c: i for i, c in enumerate(cases)}
    pairs = [(f, label) for f in embeddings for label in label_names]
    for features, label in tqdm(pairs, desc=f"probe fold {fold}", unit="fit", leave=False):
        x, where = embeddings[features][1], index[features]
        y = values[label].dropna()
        tr = [c for c in y.index if c in train_cases]
        te = [c for c in y.index if c in test_cases]
        y_tr = y.loc[tr].astype(str).to_numpy()
        counts = pd.Series(y_tr).value_counts()
        if len(counts) < 2 or counts.min() < 2 or not te:  # the inner CV needs 2 per class
            log.warning(
                "fold %s, %s / %s: training classes %s, %d test patients; not probed",
                fold, label, features, counts.to_dict(), len(te),
            )  # fmt: skip
            continue
        model = fit_one(x[[where[c] for c in tr]], y_tr, inner_folds=inner_folds, cs=cs,
                        seed=seed)  # fmt: skip
        proba = model.predict_proba(x[[where[c] for c in te]])
        classes = [str(c) for c in model.classes_]
        c_chosen = float(np.atleast_1d(model[-1].C_)[0])
        if c_chosen in (cs.min(), cs.max()):
            log.info("fold %s, %s / %s: C = %g, at the grid's edge", fold, label, features,
                     c_chosen)  # fmt: skip
        digest = _digest(model)
        for case, p, pred in zip(te, proba, model.classes_[proba.argmax(1)], strict=True):
            rows.append(
                {
                    "label": label,
                    "features": features,
                    "fold": fold,
                    "case_id": case,
                    "y_true": str(y.loc[case]),
                    "y_pred": str(pred),
                    "classes": "|".join(classes),
                    "proba": "|".join(f"{v:.6g}" for v in p),
                    "C": c_chosen,
                    "n_train": len(tr),
                    "coef_digest": digest,
                }
            )
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)


def probe_fold(
    embeddings: Mapping[str, str],
    labels: str,
    sources: str,
    split: str,
    out: str,
    *,
    fold: int = 0,
    inner_folds: int = 5,
    c_grid: tuple[float, float, int] = (-4, 2, 13),
    seed: int = 0,
) -> pd.DataFrame:
    """Read one fold's embeddings (features -> path), labels and split; write the predictions
    CSV atomically."""
    from mgi.atomic import atomic_path
    from mgi.probe.embed import read_embeddings
    from mgi.probe.labels import read_labels

    table, used = read_labels(labels, sources)
    split_table = pd.read_csv(split, sep="\t")
    if not {"case_id", "split"} <= set(split_table.columns):
        raise ValueError(f"{split}: needs columns case_id and split")
    low, high, n = c_grid
    predictions = probe(
        {name: read_embeddings(path) for name, path in embeddings.items()},
        table,
        list(used.label),
        split_table,
        fold=fold,
        inner_folds=inner_folds,
        cs=np.logspace(low, high, int(n)),
        seed=seed,
    )
    with atomic_path(out) as tmp:
        predictions.to_csv(tmp, index=False)
    log.info("fold %s: %d test predictions of %d labels x %d feature sets -> %s", fold,
             len(predictions), len(used), len(embeddings), out)  # fmt: skip
    return predictions
