# FLAIR volumes (NIfTI sheet) or kaggle_3m TIFF slices -> slice store; QC montages per patient.


# The input: the NIfTI sample sheet or folder, or the kaggle_3m root folder.
IMAGING_SOURCE = imaging_source()


if config["imaging"]["source"] == "kaggle":

    # kaggle_3m from Kaggle through kagglehub (its cache beside the output: a broken download
    # resumes on the next run). A local rule: it needs the internet, which compute nodes of a
    # cluster often lack.
    rule imaging_fetch:
        output:
            directory(KAGGLE_3M),
        log:
            "logs/imaging/fetch.log",
        localrule: True
        conda:
            "../envs/data.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=120,
        params:
            kaggle=keys.imaging_fetch(config),
        script:
            "../workflow/scripts/imaging_fetch.py"


if config["imaging"]["source"] == "brats_tcga_lgg":

    # The user's BraTS-TCGA-LGG zip (TCIA serves it through Aspera) -> FLAIR + mask NIfTI sheet.
    rule imaging_unpack:
        input:
            zip=config["imaging"]["brats"]["zip"],
        output:
            sheet=f"{BRATS_DIR}/sheet.tsv",
            cases=directory(f"{BRATS_DIR}/cases"),
        log:
            "logs/imaging/unpack.log",
        benchmark:
            "logs/imaging/unpack.bench.tsv"
        conda:
            "../envs/data.yaml"
        threads: 1
        resources:
            mem_mb=4000,
            runtime=60,
        script:
            "../workflow/scripts/imaging_unpack.py"


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
