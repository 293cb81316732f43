# The run's effective config (every key, defaults filled in) beside its results.


rule config_record:
    output:
        CONFIG_RECORD,
    log:
        "logs/config_record.log",
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=200,
        runtime=5,
    params:
        # the whole config: this record changes with every key (and reruns nothing else)
        config=config,
        configfiles=[os.path.relpath(f) for f in workflow.overwrite_configfiles],
    script:
        "../workflow/scripts/config_record.py"


TARGETS += [CONFIG_RECORD]
