# The whole thesis, after its chapters; published only when the build succeeded.


localrules:
    publish_thesis,


rule compile_thesis:
    input:
        chapters=PROJECT.chapter_pdfs(),
        sources=get_thesis_inputs,
    output:
        pdf="build/thesis.pdf",
    log:
        "build/logs/compile_thesis/thesis.log",
    benchmark:
        "build/benchmarks/compile_thesis/thesis.tsv"
    shell:
        "chapterwise compile-thesis --pdf {output.pdf} --log {log}"


rule publish_thesis:
    input:
        "build/thesis.pdf",
    output:
        config["output"],
    log:
        "build/logs/publish_thesis/thesis.log",
    shell:
        "chapterwise publish {input} {output} --log {log}"
