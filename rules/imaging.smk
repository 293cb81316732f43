# FLAIR volumes (NIfTI sheet) or kaggle_3m TIFF slices -> slice store; QC montages per patient.


# The input: the NIfTI sample sheet or folder, or the kaggle_3m root folder.
IMAGING_SOURCE = imaging_source()


rule imaging_slice:
    input:
        source=IMAGING_SOURCE,
    output:
        images=f"{STORE}/images.npy",
        masks=f"{STORE}/masks.npy",
        index=f"{STORE}/index.parquet",
        meta=f"{STORE}/store.json",
    log:
        "logs/imaging/slice.log",
    benchmark:
        "logs/imaging/slice.bench.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        imaging=keys.imaging(config),
    script:
        "../workflow/scripts/imaging_slice.py"


rule imaging_qc:
    input:
        images=f"{STORE}/images.npy",
        masks=f"{STORE}/masks.npy",
        index=f"{STORE}/index.parquet",
    output:
        directory("results/imaging/qc"),
    log:
        "logs/imaging/qc.log",
    benchmark:
        "logs/imaging/qc.bench.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        max_slices=config["imaging"]["qc_slices"],
    script:
        "../workflow/scripts/imaging_qc.py"


TARGETS += [f"{STORE}/index.parquet", "results/imaging/qc"]
