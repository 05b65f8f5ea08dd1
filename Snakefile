# chapterwise: notebooks -> tables, macros, figures -> chapter previews -> thesis.pdf
from snakemake.utils import min_version

from chapterwise.report import report_build
from chapterwise.tuning import freeze_startup_objects, release_local_rate_limit

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/notebooks.smk"
include: "rules/tables.smk"
include: "rules/figures.smk"
include: "rules/chapters.smk"
include: "rules/thesis.smk"
include: "rules/checks.smk"


localrules:
    all,


rule all:
    input:
        config["output"],
        rules.check.input,


# A local run exits when its last job ends, not a second later (see chapterwise/tuning.py).
freeze_startup_objects()


onstart:
    release_local_rate_limit(workflow)


# build/reports/build.json (+ provenance.json on success) and a table of job times
onsuccess:
    report_build(log, PROJECT, ok=True)


onerror:
    report_build(log, PROJECT, ok=False)
