# One job per notebook: its declared outputs are the rule's outputs.
for notebook in PROJECT.notebooks:

    rule:
        name:
            f"render_notebook_{notebook.name}"
        input:
            notebook=notebook.path,
            data=list(notebook.inputs),
        output:
            *notebook.outputs,
            executed=f"build/notebooks/{notebook.name}.ipynb",
        log:
            f"build/logs/render_notebook/{notebook.name}.log",
        benchmark:
            f"build/benchmarks/render_notebook/{notebook.name}.tsv"
        shell:
            "chapterwise render-notebook {input.notebook} --executed {output.executed} --log {log}"
