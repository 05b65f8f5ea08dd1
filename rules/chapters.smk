# Each chapter typeset alone, in the thesis' context (\includeonly + the last thesis build's
# state): its preview, and the pages compile_thesis splices into thesis.pdf.


rule compile_chapter:
    input:
        unpack(get_chapter_inputs),
    output:
        pdf="build/chapters/{chapter}.pdf",
    log:
        "build/logs/compile_chapter/{chapter}.log",
    benchmark:
        "build/benchmarks/compile_chapter/{chapter}.tsv"
    shell:
        "chapterwise compile-chapter {wildcards.chapter} --pdf {output.pdf} --log {log}"
