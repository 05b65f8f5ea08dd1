# One job per notebook: its declared outputs are the rule's outputs, its front matter's
# params (for --rerun-triggers params) and resources (threads=cpus, mem_mb, gpu, runtime) the
# rule's own.
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
            html=f"build/notebooks/{notebook.name}.html",
        log:
            f"build/logs/render_notebook/{notebook.name}.log",
        benchmark:
            f"build/benchmarks/render_notebook/{notebook.name}.tsv"
        threads: notebook.front.resources.cpus
        resources:
            **notebook.front.resources.snakemake_resources(),
        params:
            values=notebook.front.params,
        shell:
            "chapterwise render-notebook {input.notebook} --executed {output.executed}"
            " --html {output.html} --log {log}"
