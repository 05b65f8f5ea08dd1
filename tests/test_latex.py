"""latexmk jobs: the argv, the environment, seeding from the thesis, and real runs."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from chapterwise.diagnostics import ChapterwiseError
from chapterwise.latex import (
    DRIVER_FILE,
    HOOK_FILE,
    HOOKS_DIR,
    LATEX_FLAGS,
    MARKER_FILES,
    Format,
    LatexJob,
    RerunDecision,
    hook_inputs,
    latex_environment,
    latexmk_command,
    pdflatex_command,
    render_driver,
    run_latex,
    run_passes,
    seed_chapter_numbers,
    seed_from_thesis,
)

MAIN = r"""\documentclass{report}
\begin{document}
\include{chapters/one}
\include{chapters/two}
\end{document}
"""


def make_job(root: Path, include_only: str | None = None, jobname: str = "thesis") -> LatexJob:
    outdir = "build/thesis" if include_only is None else f"build/chapters/{jobname}"
    return LatexJob(root, "thesis.tex", jobname, outdir, include_only, 1704067200)


def test_command_has_the_fixed_flags_and_no_shell_escape(tmp_path: Path) -> None:
    command = latexmk_command(make_job(tmp_path))
    assert command[0] == "latexmk" and command[-1] == "thesis.tex"
    for flag in LATEX_FLAGS:
        assert flag in command
    assert "-latexoption=-no-shell-escape" in command
    assert "-outdir=build/thesis" in command and "-jobname=thesis" in command
    assert f"-usepretex=\\input{{{HOOK_FILE}}}" in command, "every run reads the hooks"


def test_chapter_command_includes_only_that_chapter(tmp_path: Path) -> None:
    command = latexmk_command(make_job(tmp_path, "chapters/two", "two"))
    assert f"-usepretex=\\includeonly{{chapters/two}}\\input{{{HOOK_FILE}}}" in command
    assert "-outdir=build/chapters/two" in command and "-jobname=two" in command


def test_chapter_job_also_typesets_the_chapters_it_carries(tmp_path: Path) -> None:
    job = replace(make_job(tmp_path, "chapters/two", "two"), also_include=("chapters/one",))
    assert job.typeset == ("chapters/one", "chapters/two")
    expected = f"\\includeonly{{chapters/one,chapters/two}}\\input{{{HOOK_FILE}}}"
    assert f"-usepretex={expected}" in latexmk_command(job)
    assert render_driver(job, Format(tmp_path, "pre")).splitlines()[1] == f"{expected}%"
    assert make_job(tmp_path).typeset == (), "the whole thesis is no \\includeonly job"


def test_a_carried_chapter_gives_its_definitions_and_keeps_its_aux(tmp_path: Path) -> None:
    write_project(tmp_path, "\\chapter{Two}\\label{two}\nThe \\animal{} of \\ref{one}.\n")
    one = tmp_path / "chapters" / "one.tex"
    one.write_text("\\newcommand{\\animal}{hare}\n" + one.read_text())
    includes = ["chapters/one", "chapters/two"]
    thesis = run_latex(make_job(tmp_path), includes=includes, log_path=tmp_path / "t.log")
    alone = make_job(tmp_path, "chapters/two", "two")
    with pytest.raises(ChapterwiseError, match="Undefined control sequence"):
        run_latex(alone, includes=includes, log_path=tmp_path / "a.log")
    job = replace(alone, also_include=("chapters/one",))
    seed_from_thesis(job, thesis.pdf.parent, includes)
    (job.directory / "chapters" / "one.aux").write_text("stale")
    assert seed_from_thesis(job, thesis.pdf.parent, includes) == 0, "its own .aux is the job's"
    (job.directory / "chapters" / "one.aux").unlink()
    result = run_latex(job, includes=includes, log_path=tmp_path / "two.log")
    text = subprocess.run(
        ["pdftotext", str(result.pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "The hare of 1." in text and "See 2." in text


def test_one_pass_command_matches_what_latexmk_runs(tmp_path: Path) -> None:
    command = pdflatex_command(make_job(tmp_path, "chapters/two", "two"))
    assert command[0] == "pdflatex" and "-no-shell-escape" in command
    assert "-output-directory=build/chapters/two" in command and "-jobname=two" in command
    assert (
        command[-1] == f"\\includeonly{{chapters/two}}\\input{{{HOOK_FILE}}}\\input{{thesis.tex}}"
    )


def test_hooks_are_found_first_and_declared_when_inside_the_project(tmp_path: Path) -> None:
    env = latex_environment(make_job(tmp_path), {"TEXINPUTS": "/mine:"})
    assert env["TEXINPUTS"].split(":")[:2] == [str(HOOKS_DIR), "/mine"]
    assert latex_environment(make_job(tmp_path), {})["TEXINPUTS"].endswith(":")
    assert hook_inputs(tmp_path) == []
    inside = hook_inputs(HOOKS_DIR.parent.parent)
    assert f"chapterwise/tex/{HOOK_FILE}" in inside
    assert all((HOOKS_DIR / name).is_file() for name in (HOOK_FILE, *MARKER_FILES.values()))


def test_environment_is_reproducible_and_keeps_caches_in_build(tmp_path: Path) -> None:
    env = latex_environment(make_job(tmp_path), {"PATH": "/bin", "FORCE_SOURCE_DATE": "1"})
    assert env["SOURCE_DATE_EPOCH"] == "1704067200"
    assert "FORCE_SOURCE_DATE" not in env
    assert env["TEXMFVAR"] == str(tmp_path / "build" / "texmf-var")
    assert env["max_print_line"] == "10000"
    assert env["PATH"] == "/bin"


def test_seeding_copies_other_chapters_every_time_and_own_state_once(tmp_path: Path) -> None:
    thesis = tmp_path / "build" / "thesis"
    (thesis / "chapters").mkdir(parents=True)
    (thesis / "thesis.aux").write_text("main 1\n")
    (thesis / "chapters" / "one.aux").write_text("one 1\n")
    (thesis / "chapters" / "two.aux").write_text("two 1\n")
    job = make_job(tmp_path, "chapters/two", "two")
    (job.directory / "chapters").mkdir(parents=True)
    includes = ["chapters/one", "chapters/two"]
    assert seed_from_thesis(job, thesis, includes) == 3
    assert (job.directory / "two.aux").read_text() == "main 1\n"
    # The chapter's own aux evolves in its own job; other chapters follow the thesis.
    (job.directory / "chapters" / "two.aux").write_text("two, typeset alone\n")
    (thesis / "chapters" / "one.aux").write_text("one 2\n")
    (thesis / "chapters" / "two.aux").write_text("two 2\n")
    assert seed_from_thesis(job, thesis, includes) == 1
    assert (job.directory / "chapters" / "one.aux").read_text() == "one 2\n"
    assert (job.directory / "chapters" / "two.aux").read_text() == "two, typeset alone\n"
    assert seed_from_thesis(job, thesis, includes) == 0


def test_seeding_without_a_thesis_build_copies_nothing(tmp_path: Path) -> None:
    job = make_job(tmp_path, "chapters/two", "two")
    assert seed_from_thesis(job, tmp_path / "build" / "thesis", ["chapters/two"]) == 0


def write_project(root: Path, two: str) -> None:
    (root / "chapters").mkdir()
    (root / "thesis.tex").write_text(MAIN)
    (root / "chapters" / "one.tex").write_text("\\chapter{One}\\label{one}\nSee \\ref{two}.\n")
    (root / "chapters" / "two.tex").write_text(two)


def test_real_run_typesets_and_writes_nothing_into_the_sources(tmp_path: Path) -> None:
    write_project(tmp_path, "\\chapter{Two}\\label{two}\nSee \\ref{one}.\n")
    job = make_job(tmp_path)
    result = run_latex(
        job, includes=["chapters/one", "chapters/two"], log_path=tmp_path / "build" / "x.log"
    )
    assert result.pdf == tmp_path / "build" / "thesis" / "thesis.pdf"
    assert result.pdf.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in (tmp_path / "chapters").iterdir()) == ["one.tex", "two.tex"]
    assert not list(tmp_path.glob("*.aux"))
    assert (tmp_path / "build" / "thesis" / "thesis.fls").is_file(), "-recorder is on"


def test_real_run_is_byte_reproducible(tmp_path: Path) -> None:
    write_project(tmp_path, "\\chapter{Two}\\label{two}\n")
    includes = ["chapters/one", "chapters/two"]
    first = run_latex(make_job(tmp_path), includes=includes, log_path=tmp_path / "a.log")
    pdf = first.pdf.read_bytes()
    (tmp_path / "chapters" / "two.tex").write_text("\\chapter{Two}\\label{two}\n% touched\n")
    second = run_latex(make_job(tmp_path), includes=includes, log_path=tmp_path / "b.log")
    assert second.pdf.read_bytes() == pdf


def test_latex_error_names_the_chapter_file_and_line(tmp_path: Path) -> None:
    write_project(tmp_path, "\\chapter{Two}\\label{two}\n\nBroken \\nosuchmacro here.\n")
    with pytest.raises(ChapterwiseError) as caught:
        run_latex(
            make_job(tmp_path, "chapters/two", "two"),
            includes=["chapters/one", "chapters/two"],
            log_path=tmp_path / "build" / "two.log",
        )
    first = caught.value.diagnostics[0]
    assert (first.path, first.line, first.code) == ("chapters/two.tex", 3, "latex-error")
    assert first.message.startswith("Undefined control sequence")
    assert "\\nosuchmacro" in first.message


def test_first_build_preview_carries_its_number_in_the_thesis(tmp_path: Path) -> None:
    includes = ["chapters/one", "chapters/two", "chapters/three"]
    write_project(tmp_path, "\\chapter{Two}\\label{two}\nText.\n")
    (tmp_path / "thesis.tex").write_text(
        MAIN.replace(
            "\\include{chapters/two}\n", "\\include{chapters/two}\n\\include{chapters/three}\n"
        )
    )
    (tmp_path / "chapters" / "three.tex").write_text("\\chapter{Three}\n")
    counters = {"chapters/one": 1, "chapters/two": 2, "chapters/three": 3}
    job = make_job(tmp_path, "chapters/two", "two")
    assert seed_chapter_numbers(job, counters) == 2
    assert seed_chapter_numbers(job, counters) == 0, "unchanged files are not rewritten"
    result = run_latex(job, includes=includes, log_path=tmp_path / "build" / "two.log")
    text = subprocess.run(
        ["pdftotext", str(result.pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Chapter 2" in text
    assert "Chapter 1" not in text and "Chapter 4" not in text


def test_hooks_log_each_include_and_mark_its_reads(tmp_path: Path) -> None:
    write_project(tmp_path, "\\chapter{Two}\\label{two}\nSee \\ref{one}.\n")
    result = run_latex(
        make_job(tmp_path), includes=["chapters/one", "chapters/two"], log_path=tmp_path / "l"
    )
    log = (result.pdf.parent / "thesis.log").read_text()
    assert "chapterwise:begin;chapters/one;0;" in log
    assert "chapterwise:end;chapters/two;" in log
    aux = (result.pdf.parent / "thesis.aux").read_text()
    assert "\\chapterwise@end{chapters/one}" in aux and "\\chapterwise@end{chapters/two}" in aux
    fls = (result.pdf.parent / "thesis.fls").read_text()
    assert fls.count(MARKER_FILES["begin"]) == 2 and fls.count(MARKER_FILES["end"]) == 2


def test_passes_run_until_the_watched_file_is_stable(tmp_path: Path) -> None:
    write_project(tmp_path, "\\chapter{Two}\\label{two}\nThis is chapter \\ref{two}.\n")
    job = make_job(tmp_path, "chapters/two", "two")
    prepared: list[int] = []
    result = run_passes(
        job,
        includes=["chapters/one", "chapters/two"],
        log_path=tmp_path / "passes.log",
        watched=[job.directory / "chapters" / "two.aux"],
        prepare=prepared.append,
    )
    assert (result.decision, result.passes, prepared) == (RerunDecision.DONE, 2, [1, 2])
    assert "rerun: two.aux sha256" in (tmp_path / "passes.log").read_text()
    text = subprocess.run(
        ["pdftotext", str(result.pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "This is chapter 1." in text, "the second pass resolves the new label"


def test_a_failing_pass_reports_the_chapter_line(tmp_path: Path) -> None:
    write_project(tmp_path, "\\chapter{Two}\n\nBroken \\nosuchmacro here.\n")
    job = make_job(tmp_path, "chapters/two", "two")
    with pytest.raises(ChapterwiseError) as caught:
        run_passes(
            job,
            includes=["chapters/one", "chapters/two"],
            log_path=tmp_path / "passes.log",
            watched=[job.directory / "chapters" / "two.aux"],
            prepare=lambda number: None,
        )
    first = caught.value.diagnostics[0]
    assert (first.path, first.line, first.code) == ("chapters/two.tex", 3, "latex-error")


def test_pass_with_a_format_reads_the_driver_and_finds_the_format(tmp_path: Path) -> None:
    fmt = Format(tmp_path / "build" / "format", "pre")
    job = make_job(tmp_path, "chapters/two", "two")
    command = pdflatex_command(job, fmt)
    assert command[:-2] == pdflatex_command(job)[:-1], "the same flags as a plain pass"
    assert command[-2:] == ("-fmt=pre", f"build/chapters/two/{DRIVER_FILE}")
    env = latex_environment(job, {"TEXFORMATS": "/x"}, fmt)
    assert env["TEXFORMATS"] == f"{fmt.directory}:/x"
    assert "TEXFORMATS" not in latex_environment(job, {})


def test_driver_stops_the_format_skip_then_skips_the_main_preamble(tmp_path: Path) -> None:
    job = LatexJob(tmp_path, "thèse.tex", "two", "build/chapters/two", "chapters/two")
    lines = render_driver(job, Format(tmp_path, "pre")).splitlines()
    assert lines[0] == "\\csname endofdump\\endcsname", "line 1 must hold nothing else"
    assert lines[1] == f"\\includeonly{{chapters/two}}\\input{{{HOOK_FILE}}}%"
    assert "blx@list@bibfiles@pre" in lines[3] and "\\jobname" in lines[3]
    assert lines[-1] == "\\expandafter\\MYLATEX@scanpreamble\\@@input{thèse.tex}"
