# Validators, each a job of its own: static checks run beside the builds, the log and PDF
# checks after them. A report is build/reports/<check>.json; an error fails its job.


localrules:
    check,


rule check_bibliography:
    input:
        get_thesis_inputs,
    output:
        "build/reports/bibliography.json",
    log:
        "build/logs/check/bibliography.log",
    shell:
        "chapterwise check --checks bibliography --report {output} --log {log}"


rule check_crossrefs:
    input:
        get_thesis_inputs,
    output:
        "build/reports/crossrefs.json",
    log:
        "build/logs/check/crossrefs.log",
    shell:
        "chapterwise check --checks crossrefs --report {output} --log {log}"


rule check_artifacts:
    input:
        get_thesis_inputs,
        [notebook.path for notebook in PROJECT.notebooks],
    output:
        "build/reports/artifacts.json",
    log:
        "build/logs/check/artifacts.log",
    shell:
        "chapterwise check --checks artifacts --report {output} --log {log}"


rule check_logs:
    input:
        "build/thesis.pdf",
        PROJECT.chapter_pdfs(),
    output:
        "build/reports/logs.json",
    log:
        "build/logs/check/logs.log",
    shell:
        "chapterwise check --checks logs --report {output} --log {log}"


rule check_pdf:
    input:
        config["output"],
    output:
        "build/reports/pdf.json",
    log:
        "build/logs/check/pdf.log",
    shell:
        "chapterwise check --checks pdf --report {output} --log {log}"


rule check:
    input:
        rules.check_bibliography.output,
        rules.check_crossrefs.output,
        rules.check_artifacts.output,
        rules.check_logs.output,
        rules.check_pdf.output,
