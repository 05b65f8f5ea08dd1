# chapterwise: notebooks -> tables, macros, figures -> chapter previews -> thesis.pdf
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/notebooks.smk"
include: "rules/tables.smk"
include: "rules/chapters.smk"
include: "rules/thesis.smk"


localrules:
    all,


rule all:
    input:
        config["output"],
