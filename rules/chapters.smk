# Each chapter typeset alone, in the thesis' context (\includeonly + the last thesis aux files).


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
