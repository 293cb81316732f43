# The embedded demo cohort, in the real formats (STAR-Counts TSVs, files.tsv, NIfTI volumes).


rule demo_synthesize:
    output:
        files="resources/demo/gdc/files.tsv",
        manifest="resources/demo/gdc/manifest.tsv",
        clinical="resources/demo/cases.parquet",
        markers="resources/demo/markers.parquet",
        sheet=DEMO_SHEET,
    log:
        "logs/demo/synthesize.log",
    benchmark:
        "logs/demo/synthesize.bench.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        demo=config["demo"],
        out=lambda wildcards, output: Path(output.clinical).parent,
    script:
        "../workflow/scripts/demo_synthesize.py"
