# results/<name>.csv -> tables/<name>.tex (booktabs); results/<name>.json -> tables/<name>.tex (macros)


localrules:
    render_table,
    render_macros,


rule render_table:
    input:
        source="results/{table}.csv",
        template=get_table_template,
    output:
        "tables/{table}.tex",
    log:
        "build/logs/render_table/{table}.log",
    benchmark:
        "build/benchmarks/render_table/{table}.tsv"
    shell:
        "chapterwise render-table {input.source} {input.template} --output {output} --log {log}"


rule render_macros:
    input:
        source="results/{values}.json",
    output:
        "tables/{values}.tex",
    log:
        "build/logs/render_macros/{values}.log",
    benchmark:
        "build/benchmarks/render_macros/{values}.tsv"
    shell:
        "chapterwise render-macros {input.source} --output {output} --log {log}"
