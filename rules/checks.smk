# Validators, each a job of its own: static checks run beside the builds, the log and PDF
# checks after them. An error fails its job. The report, build/reports/<check>.json, is a
# log: Snakemake keeps log files of a failed job but deletes its outputs, and the report
# matters most when the check fails; the output is a marker Snakemake touches on success.
# params: carry the settings a check reads, so that --rerun-triggers params reruns it.


localrules:
    check,


rule check_bibliography:
    input:
        get_thesis_inputs,
    output:
        touch("build/checks/bibliography.done"),
    log:
        log="build/logs/check/bibliography.log",
        report="build/reports/bibliography.json",
    params:
        checks=config["checks"],
    shell:
        "chapterwise check --checks bibliography --report {log.report} --log {log.log}"


rule check_crossrefs:
    input:
        get_thesis_inputs,
    output:
        touch("build/checks/crossrefs.done"),
    log:
        log="build/logs/check/crossrefs.log",
        report="build/reports/crossrefs.json",
    params:
        checks=config["checks"],
    shell:
        "chapterwise check --checks crossrefs --report {log.report} --log {log.log}"


rule check_artifacts:
    input:
        get_thesis_inputs,
        [notebook.path for notebook in PROJECT.notebooks],
    output:
        touch("build/checks/artifacts.done"),
    log:
        log="build/logs/check/artifacts.log",
        report="build/reports/artifacts.json",
    params:
        checks=config["checks"],
    shell:
        "chapterwise check --checks artifacts --report {log.report} --log {log.log}"


rule check_logs:
    input:
        "build/thesis.pdf",
        PROJECT.chapter_pdfs(),
    output:
        touch("build/checks/logs.done"),
    log:
        log="build/logs/check/logs.log",
        report="build/reports/logs.json",
    params:
        checks=config["checks"],
    shell:
        "chapterwise check --checks logs --report {log.report} --log {log.log}"


rule check_pdf:
    input:
        config["output"],
    output:
        touch("build/checks/pdf.done"),
    log:
        log="build/logs/check/pdf.log",
        report="build/reports/pdf.json",
    params:
        checks=config["checks"],
        title=config["title"],
        author=config["author"],
    shell:
        "chapterwise check --checks pdf --report {log.report} --log {log.log}"


rule check:
    input:
        rules.check_bibliography.output,
        rules.check_crossrefs.output,
        rules.check_artifacts.output,
        rules.check_logs.output,
        rules.check_pdf.output,
