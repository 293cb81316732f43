# rules/download.smk
# GDC download (source: gdc): open STAR-Counts RNA-seq, the clinical table and the IDH and 1p/19q
# markers, from the GDC API.
# The outputs have the same paths and formats as the demo's (rules/demo.smk), so the expression
# and cohort stages read either. With source: demo these rules are not defined.


if not DEMO:

    # Local rules: they need the internet, which compute nodes of a cluster often lack.
    # Not cache: True: the <file_id>/<file_name> files are not declared outputs (their names come
    # from the API), so a cached files.tsv would point at nothing. The downloader is its own cache:
    # verified files are never fetched again, and a broken file resumes from its .partial.
    rule gdc_download:
        output:
            files=f"{GDC_DIR}/files.tsv",
            manifest=f"{GDC_DIR}/manifest.tsv",
        log:
            "logs/gdc/download.log",
        benchmark:
            "logs/gdc/download.bench.tsv"
        retries: 1
        localrule: True
        conda:
            "../envs/data.yaml"
        threads: 1  # downloads are I/O-bound threads (gdc.processes), not CPU work
        resources:
            mem_mb=2000,
            runtime=360,
        params:
            gdc=keys.gdc(config),
        script:
            "../workflow/scripts/gdc_download.py"

    # One Parquet file that depends only on the project and the data release: cacheable.
    rule gdc_cases:
        output:
            clinical=CLINICAL,
        log:
            "logs/gdc/cases.log",
        cache: True
        retries: 1
        localrule: True
        conda:
            "../envs/data.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=30,
        params:
            gdc=keys.gdc(config),
        script:
            "../workflow/scripts/gdc_cases.py"

    # IDH1/2 and 1p/19q per case from the open mutation and gene-level copy-number endpoints;
    # like gdc_cases it depends only on the project and the data release: cacheable. Not in
    # TARGETS: the labels stage asks for it.
    rule gdc_markers:
        output:
            markers=MARKERS,
        log:
            "logs/gdc/markers.log",
        cache: True
        retries: 1
        localrule: True
        conda:
            "../envs/data.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=60,
        params:
            gdc=keys.gdc(config),
            threshold=config["probe"]["markers_threshold"],
        script:
            "../workflow/scripts/gdc_markers.py"
