"""Table 2: a linear probe of frozen encoders on patient labels (molecular, clinical, planted).

:mod:`~mgi.probe.labels` (labels.tsv and where each label came from), :mod:`~mgi.probe.embed`
(patient embeddings per feature set), :mod:`~mgi.probe.fit` (the probe, fitted on training
patients only), :mod:`~mgi.probe.scores` and :mod:`~mgi.probe.table` (AUROC, bootstrap CIs,
paired differences, Table 2).
"""
