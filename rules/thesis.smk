# The whole thesis, after its chapters; published only when the build succeeded.
# compile_thesis assembles build/thesis.pdf: it splices the pages of the chapters whose
# sources changed (typeset by their compile_chapter jobs in the last build's context) into the
# last good PDF when that is provably what latexmk would produce, and otherwise runs latexmk
# on the whole thesis. --config assembly=full always takes the latexmk path.


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
    params:
        assembly=config["assembly"],
    shell:
        "chapterwise assemble-thesis --pdf {output.pdf} --assembly {params.assembly} --log {log}"


rule publish_thesis:
    input:
        "build/thesis.pdf",
    output:
        config["output"],
    log:
        "build/logs/publish_thesis/thesis.log",
    shell:
        "chapterwise publish {input} {output} --log {log}"
