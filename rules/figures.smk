# figures/<diagram>.dot -> figures/<diagram>.pdf (graphviz; byte-identical for the same source)


localrules:
    render_diagram,


rule render_diagram:
    input:
        "figures/{diagram}.dot",
    output:
        "figures/{diagram}.pdf",
    log:
        "build/logs/render_diagram/{diagram}.log",
    benchmark:
        "build/benchmarks/render_diagram/{diagram}.tsv"
    shell:
        "chapterwise render-diagram {input} --output {output} --log {log}"
