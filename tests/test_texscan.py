from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chapterwise.texscan import (
    BraceProblem,
    CommandKind,
    ControlWord,
    TexCommand,
    UnbalancedBrace,
    scan_braces,
    scan_control_words,
    scan_global_state,
    scan_tex,
)

K = CommandKind

REF_NAMES = [
    "ref", "eqref", "pageref", "autoref", "nameref", "vref", "Vref", "vpageref", "fullref",
    "subref", "cref", "Cref", "cpageref", "Cpageref", "labelcref", "labelcpageref", "namecref",
    "nameCref", "lcnamecref"
]  # fmt: skip
REF_RANGE_NAMES = [
    "crefrange", "Crefrange", "cpagerefrange", "Cpagerefrange", "vrefrange", "vpagerefrange"
]  # fmt: skip
CITE_NAMES = [
    "cite", "citep", "citet", "citealp", "citealt", "citeauthor", "citeyear", "parencite",
    "textcite", "autocite", "footcite", "smartcite", "supercite", "fullcite", "footfullcite",
    "citetitle", "Cite", "Parencite", "Textcite", "Autocite", "Citep", "Citet", "nocite",
    "Citealp", "Citealt", "Citeauthor", "citefullauthor", "citeyearpar", "citenum", "citedate",
    "citeurl", "Footcite", "footcitetext", "Footcitetext", "Smartcite"
]  # fmt: skip
MULTICITE_NAMES = [
    "cites", "Cites", "parencites", "Parencites", "textcites", "Textcites", "autocites",
    "Autocites", "footcites", "footcitetexts", "smartcites", "Smartcites", "supercites"
]  # fmt: skip
VERBATIM_ENVS = [
    "verbatim", "verbatim*", "Verbatim", "Verbatim*", "BVerbatim", "lstlisting", "minted",
    "comment"
]  # fmt: skip


def found(text: str) -> list[tuple[CommandKind, str, tuple[str, ...]]]:
    """(kind, name, targets) of every command, positions left out."""
    return [(c.kind, c.name, c.targets) for c in scan_tex(text)]


def positions(text: str) -> list[tuple[str, int, int]]:
    return [(c.name, c.line, c.column) for c in scan_tex(text)]


# --- every kind -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(r"\input{chapters/a}", (K.INPUT, "input", ("chapters/a",)), id="input"),
        pytest.param(r"\input chapters/a", (K.INPUT, "input", ("chapters/a",)), id="input_bare"),
        pytest.param(r"\subfile{chapters/a}", (K.INPUT, "subfile", ("chapters/a",)), id="subfile"),
        pytest.param(
            r"\include{chapters/a}", (K.INCLUDE, "include", ("chapters/a",)), id="include"
        ),
        pytest.param(
            r"\includegraphics{fig/a}", (K.GRAPHICS, "includegraphics", ("fig/a",)), id="graphics"
        ),
        pytest.param(
            r"\includegraphics*[width=3cm]{fig/a.pdf}",
            (K.GRAPHICS, "includegraphics", ("fig/a.pdf",)),
            id="graphics_star_opt",
        ),
        pytest.param(
            r"\includegraphics[bb=0 0 1 1][x]{fig/a}",
            (K.GRAPHICS, "includegraphics", ("fig/a",)),
            id="graphics_two_opts",
        ),
        pytest.param(
            r"\graphicspath{{figures/}{img/}}",
            (K.GRAPHICSPATH, "graphicspath", ("figures/", "img/")),
            id="graphicspath",
        ),
        pytest.param(
            "\\graphicspath{ {figures/}\n  {img/} }",
            (K.GRAPHICSPATH, "graphicspath", ("figures/", "img/")),
            id="graphicspath_spaced",
        ),
        pytest.param(
            r"\addbibresource{refs.bib}",
            (K.BIBRESOURCE, "addbibresource", ("refs.bib",)),
            id="addbibresource",
        ),
        pytest.param(
            r"\addbibresource[location=remote]{refs.bib}",
            (K.BIBRESOURCE, "addbibresource", ("refs.bib",)),
            id="addbibresource_opt",
        ),
        pytest.param(
            r"\bibliography{a, b ,c,}",
            (K.BIBRESOURCE, "bibliography", ("a", "b", "c")),
            id="bibliography",
        ),
        pytest.param(r"\label{sec:intro}", (K.LABEL, "label", ("sec:intro",)), id="label"),
        pytest.param(
            r"\label[lemma]{lem:a}", (K.LABEL, "label", ("lem:a",)), id="label_cleveref_type"
        ),
        pytest.param(r"\ref{sec:intro}", (K.REF, "ref", ("sec:intro",)), id="ref"),
        pytest.param(r"\cite{knuth84}", (K.CITE, "cite", ("knuth84",)), id="cite"),
    ],
)
def test_each_kind(text, expected):
    assert found(text) == [expected]


@pytest.mark.parametrize("name", REF_NAMES)
@pytest.mark.parametrize("star", ["", "*"], ids=["plain", "star"])
def test_ref_family(name, star):
    assert found(f"see \\{name}{star}{{fig:a, tab:b}} here") == [(K.REF, name, ("fig:a", "tab:b"))]


@pytest.mark.parametrize("name", REF_RANGE_NAMES)
def test_ref_ranges_give_both_labels(name):
    assert found(f"\\{name}{{eq:1}}{{eq:5}}") == [(K.REF, name, ("eq:1", "eq:5"))]


@pytest.mark.parametrize("name", CITE_NAMES)
@pytest.mark.parametrize(
    "options",
    [
        pytest.param("", id="no_opt"),
        pytest.param("[p.~3]", id="one_opt"),
        pytest.param("[see][ch.~2]", id="two_opts"),
        pytest.param(" [see] \n [ch.~{2}] ", id="spaced_opts"),
    ],
)
@pytest.mark.parametrize("star", ["", "*"], ids=["plain", "star"])
def test_cite_family(name, options, star):
    text = f"As shown \\{name}{star}{options}{{knuth84, lamport94}}."
    assert found(text) == [(K.CITE, name, ("knuth84", "lamport94"))]


@pytest.mark.parametrize("name", MULTICITE_NAMES)
def test_multicite_collects_every_group(name):
    text = f"\\{name}(all)(these)[see][1]{{a,b}}[2]{{c}}\n  {{d}} and more"
    assert found(text) == [(K.CITE, name, ("a", "b", "c", "d"))]


def test_multicite_stops_before_a_bracket_without_keys():
    text = r"\textcites{a}{b} [not a note] \cite{c}"
    assert found(text) == [(K.CITE, "textcites", ("a", "b")), (K.CITE, "cite", ("c",))]


def test_multicite_without_keys_is_not_reported():
    assert found(r"\cites[x] no keys \cite{c}") == [(K.CITE, "cite", ("c",))]


def test_nocite_star():
    assert found(r"\nocite{*}") == [(K.CITE, "nocite", ("*",))]


def test_cite_names_are_whole_words():
    text = r"\citep{a}\cite{b}\citet{c}\citepx{no}\cites{d}"
    assert [(c.name, c.targets) for c in scan_tex(text)] == [
        ("citep", ("a",)),
        ("cite", ("b",)),
        ("citet", ("c",)),
        ("cites", ("d",)),
    ]


def test_refs_inside_optional_arguments_are_found():
    text = r"\cite[see][Fig.~\ref{fig:a}]{k}\includegraphics[width=\eqref{no}]{f}"
    assert found(text) == [
        (K.CITE, "cite", ("k",)),
        (K.REF, "ref", ("fig:a",)),
        (K.GRAPHICS, "includegraphics", ("f",)),
        (K.REF, "eqref", ("no",)),
    ]


# --- \import family and \input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "target"),
    [
        pytest.param(r"\import{chapters/}{intro}", "import", "chapters/intro", id="import"),
        pytest.param(
            r"\import{chapters}{intro}", "import", "chapters/intro", id="import_adds_slash"
        ),
        pytest.param(r"\import{}{intro}", "import", "intro", id="import_empty_dir"),
        pytest.param(
            r"\subimport*{parts/a/}{b.tex}", "subimport", "parts/a/b.tex", id="subimport_star"
        ),
        pytest.param("\\inputfrom {x} \n {y}", "inputfrom", "x/y", id="inputfrom_spaced"),
        pytest.param(r"\includefrom{x/}{y}", "includefrom", "x/y", id="includefrom"),
        pytest.param(r"\subinputfrom{ x }{ y }", "subinputfrom", "x/y", id="subinputfrom"),
        pytest.param(r"\subincludefrom{x}{y}", "subincludefrom", "x/y", id="subincludefrom"),
    ],
)
def test_import_family_joins_dir_and_file(text, name, target):
    assert found(text) == [(K.INPUT, name, (target,))]


def test_import_without_file_has_no_target():
    assert found(r"\import{chapters/}{ }") == [(K.INPUT, "import", ())]


def test_import_missing_second_argument_is_skipped():
    assert found(r"\import{chapters/} text \cite{k}") == [(K.CITE, "cite", ("k",))]


@pytest.mark.parametrize(
    ("text", "target"),
    [
        pytest.param(r"\input chapters/x", "chapters/x", id="end_of_text"),
        pytest.param(r"\input chapters/x more text", "chapters/x", id="space"),
        pytest.param("\\input chapters/x\nnext", "chapters/x", id="newline"),
        pytest.param(r"\input chapters/x% comment", "chapters/x", id="percent"),
        pytest.param(r"{\input chapters/x}", "chapters/x", id="brace"),
        pytest.param(r"\input chapters/x\relax", "chapters/x", id="backslash"),
        pytest.param("\\input\n   chapters/x", "chapters/x", id="next_line"),
        pytest.param("\\input % why\n chapters/x", "chapters/x", id="after_comment"),
        pytest.param(r"\input {chapters/x} y", "chapters/x", id="braced_after_space"),
    ],
)
def test_primitive_input(text, target):
    assert found(text) == [(K.INPUT, "input", (target,))]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("\\input\n\nchapters/x", id="blank_line"),
        pytest.param("\\input", id="end_of_text"),
        pytest.param("\\input\\relax", id="command"),
        pytest.param("{\\let\\oldinput\\input}", id="closing_brace"),
    ],
)
def test_primitive_input_without_file_is_not_reported(text):
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(r"\includeonly{a,b}", id="includeonly"),
        pytest.param(r"\inputx{a}", id="inputx"),
        pytest.param(r"\includex{a}", id="includex"),
        pytest.param(r"\includegraphicsx{a}", id="includegraphicsx"),
        pytest.param(r"\labelx{a}", id="labelx"),
        pytest.param(r"\refx{a}", id="refx"),
        pytest.param(r"\makeatletter\def\input@path{{a/}}", id="input_at_path"),
        pytest.param(r"\Input{a}", id="case_sensitive"),
        pytest.param(r"\@input{a}", id="at_input"),
    ],
)
def test_only_whole_control_words_match(text):
    assert found(text) == []


def test_include_is_not_includeonly_or_includegraphics():
    text = r"\includeonly{a}\include{b}\includegraphics{c}"
    assert found(text) == [(K.INCLUDE, "include", ("b",)), (K.GRAPHICS, "includegraphics", ("c",))]


# --- comments, verbatim, \iffalse --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(r"% \input{a}", [], id="comment_line"),
        pytest.param(r"text % \input{a}", [], id="trailing_comment"),
        pytest.param(r"50\% \input{a}", [(K.INPUT, "input", ("a",))], id="escaped_percent"),
        pytest.param(r"\\% \input{a}", [], id="linebreak_then_comment"),
        pytest.param(r"\\\% \input{a}", [(K.INPUT, "input", ("a",))], id="linebreak_then_escaped"),
        pytest.param("% a\n\\input{b}", [(K.INPUT, "input", ("b",))], id="comment_ends_at_newline"),
        pytest.param(r"\cite{a}% \cite{b}", [(K.CITE, "cite", ("a",))], id="comment_after_command"),
        pytest.param(r"\cite{a,% b}", [], id="comment_hides_closing_brace"),
        pytest.param(
            "\\cite{a,% b,\n c}", [(K.CITE, "cite", ("a", "c"))], id="comment_in_argument"
        ),
        pytest.param(
            "\\input{chap%\n   ters/x}", [(K.INPUT, "input", ("chapters/x",))], id="comment_joins"
        ),
        pytest.param("\\cite% note\n{k}", [(K.CITE, "cite", ("k",))], id="comment_before_argument"),
        pytest.param(
            "\\cite{a\\%b}", [(K.CITE, "cite", ("a\\%b",))], id="escaped_percent_in_argument"
        ),
    ],
)
def test_comments(text, expected):
    assert found(text) == expected


def test_line_numbers_stay_right_after_comments():
    text = "% \\input{a}\n%\n  % x \\cite{b}\n\\cite{c} % \\cite{d}\n\\\\% \\ref{e}\n\\ref{f}"
    assert positions(text) == [("cite", 4, 1), ("ref", 6, 1)]


@pytest.mark.parametrize(
    "verb",
    [
        pytest.param(r"\verb|\input{a}|", id="bar"),
        pytest.param(r"\verb+\input{a}+", id="plus"),
        pytest.param(r"\verb!\input{a}!", id="bang"),
        pytest.param(r"\verb*|\input{a} |", id="star"),
        pytest.param(r"\verb{\input{a}{", id="brace"),
        pytest.param(r"\verb%\input{a}%", id="percent"),
    ],
)
def test_verb_is_skipped(verb):
    assert positions(f"x {verb} \\ref{{r}}\n\\cite{{c}}") == [
        ("ref", 1, len(verb) + 4),
        ("cite", 2, 1),
    ]


def test_unclosed_verb_ends_at_line_end():
    assert found("\\verb|\\input{a}\n\\input{b}") == [(K.INPUT, "input", ("b",))]


def test_verbx_is_not_verb():
    assert found(r"\verbx|\input{a}|") == [(K.INPUT, "input", ("a",))]


@pytest.mark.parametrize("env", VERBATIM_ENVS)
def test_verbatim_environments_are_skipped(env):
    text = (
        f"\\label{{before}}\n\\begin{{{env}}}\n\\input{{no}} % \\end{{other}}\n"
        f"\\cite{{no}} \\iffalse\n\\end{{{env}}} \\label{{after}}\n\\ref{{r}}"
    )
    assert positions(text) == [("label", 1, 1), ("label", 5, len(env) + 8), ("ref", 6, 1)]


def test_minted_language_and_options_are_skipped():
    text = "\\begin{minted}[linenos]{python}\n\\input{no}\n\\end{minted}\n\\input{yes}"
    assert found(text) == [(K.INPUT, "input", ("yes",))]


def test_spaces_in_begin_and_end():
    text = "\\begin {verbatim}\n\\input{no}\n\\end {verbatim}\\input{yes}"
    assert found(text) == [(K.INPUT, "input", ("yes",))]


def test_unterminated_verbatim_hides_the_rest():
    assert found("\\input{a}\n\\begin{lstlisting}\n\\input{b}\n") == [(K.INPUT, "input", ("a",))]


def test_other_environments_are_scanned():
    text = "\\begin{figure}\n\\includegraphics{f}\n\\label{fig:f}\n\\end{figure}"
    assert found(text) == [(K.GRAPHICS, "includegraphics", ("f",)), (K.LABEL, "label", ("fig:f",))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("\\iffalse \\input{a} \\fi \\input{b}", ["b"], id="skipped"),
        pytest.param("\\iffalse\n\\input{a}\n\\fi\n\\input{b}", ["b"], id="multiline"),
        pytest.param("\\iffalse \\input{a} \\else \\input{b} \\fi", ["b"], id="else_branch"),
        pytest.param(
            "\\iffalse \\ifx\\a\\b \\input{a} \\fi \\input{c} \\fi \\input{b}", ["b"], id="nested"
        ),
        pytest.param("\\iffalse % \\fi\n \\input{a} \\fi \\input{b}", ["b"], id="fi_in_comment"),
        pytest.param("\\iffalse \\fix \\input{a} \\fi \\input{b}", ["b"], id="fix_is_not_fi"),
        pytest.param("\\iffalse \\input{a}", [], id="unterminated"),
        pytest.param("\\let\\ifdraft\\iffalse \\input{a}", ["a"], id="let_assignment"),
        pytest.param("\\let\\ifdraft = \\iffalse \\input{a}", ["a"], id="let_assignment_equals"),
        pytest.param("\\iftrue \\input{a} \\fi", ["a"], id="iftrue"),
    ],
)
def test_iffalse(text, expected):
    assert [t for c in scan_tex(text) for t in c.targets] == expected


def test_iffalse_limitation_user_conditionals_do_not_nest():
    # documented: a \newif conditional inside \iffalse is not counted, so its \fi ends the skip
    text = "\\iffalse \\ifdraft \\input{a} \\fi \\input{b} \\fi"
    assert found(text) == [(K.INPUT, "input", ("b",))]


# --- positions --------------------------------------------------------------------------------

BEFORE = [
    pytest.param("", 0, id="nothing_before"),
    pytest.param("Plain text.\n", 1, id="one_line_before"),
    pytest.param("\\section{Intro}\n% \\cite{x}\n\n", 3, id="section_comment_blank"),
    pytest.param("\\begin{verbatim}\n\\cite{x}\n\\end{verbatim}\n", 3, id="verbatim_before"),
    pytest.param("a \\verb|%|\n\\iffalse\n\\cite{x}\n\\fi\n", 4, id="verb_iffalse_before"),
    pytest.param("\\cite{a,\n b}\n", 2, id="multiline_command_before"),
]
AFTER = [
    pytest.param("", id="nothing_after"),
    pytest.param("\nMore text.\n", id="text_after"),
    pytest.param("\n\\unbalanced{", id="unbalanced_after"),
    pytest.param("\n\\begin{comment}\n", id="unterminated_comment_env_after"),
]


@pytest.mark.parametrize(("before", "lines_before"), BEFORE)
@pytest.mark.parametrize("after", AFTER)
@pytest.mark.parametrize(
    ("command", "name"),
    [
        pytest.param("\\input{x}", "input", id="input"),
        pytest.param(
            "  \\includegraphics[\n  width=1cm]\n  {x}", "includegraphics", id="multiline"
        ),
        pytest.param("\\parencite*[p.~1]{x}", "parencite", id="cite"),
    ],
)
def test_line_numbers_with_text_around(before, lines_before, after, command, name):
    target_line = lines_before + 1
    column = command.index("\\") + 1
    commands = [c for c in scan_tex(before + command + after) if c.targets == ("x",)]
    assert [(c.name, c.line, c.column) for c in commands] == [(name, target_line, column)]


def test_columns_on_one_line():
    text = "ab \\label{a} \\ref{a}\t\\cite{k}"
    assert positions(text) == [("label", 1, 4), ("ref", 1, 14), ("cite", 1, 22)]


def test_crlf_line_endings():
    assert positions("a\r\n\\cite\r\n{k}\r\n\\ref{r}") == [("cite", 2, 1), ("ref", 4, 1)]


# --- whitespace and multi-line arguments -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("\\includegraphics * [width=1cm] {f}", id="spaces"),
        pytest.param("\\includegraphics\n*\n[width=1cm]\n{f}", id="newlines"),
        pytest.param("\\includegraphics% c\n[width=1cm]% c\n{f}", id="comments"),
        pytest.param(
            "\\includegraphics[width=0.8\\linewidth, trim={1 2 3 4}]{f}", id="nested_braces"
        ),
        pytest.param("\\includegraphics[a=[b], c={]}]{f}", id="nested_brackets"),
        pytest.param("\\includegraphics[\n  width=1cm,\n  height=2cm\n]{f}", id="multiline_opt"),
        pytest.param("\\includegraphics{\n  f\n}", id="multiline_required"),
    ],
)
def test_whitespace_between_parts(text):
    assert found(text) == [(K.GRAPHICS, "includegraphics", ("f",))]


def test_multiline_keys():
    text = "\\cite{\n  a,\n  b,\n  c\n}\n\\ref{r}"
    assert positions(text) == [("cite", 1, 1), ("ref", 6, 1)]
    assert scan_tex(text)[0].targets == ("a", "b", "c")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("\\cite\n\n{k}", id="before_argument"),
        pytest.param("\\cite[p]\n  \n{k}", id="after_optional"),
        pytest.param("\\cite{a,\n\nk}", id="inside_argument"),
        pytest.param("\\cite[see\n\n]{k}", id="inside_optional"),
    ],
)
def test_blank_line_ends_the_command(text):
    assert found(text) == []


def test_empty_arguments_give_no_targets():
    assert found(r"\cite{ }\bibliography{,,}") == [
        (K.CITE, "cite", ()),
        (K.BIBRESOURCE, "bibliography", ()),
    ]


def test_macro_parameters_are_dropped():
    text = r"\newcommand{\fig}[1]{\includegraphics{figures/#1}\label{fig:#1}}\cite{a,#2}"
    assert found(text) == [
        (K.GRAPHICS, "includegraphics", ()),
        (K.LABEL, "label", ()),
        (K.CITE, "cite", ("a",)),
    ]


def test_commands_in_arguments_of_other_commands_are_found():
    text = r"\caption{A figure.\label{fig:a}} \section{See \ref{fig:a}}"
    assert found(text) == [(K.LABEL, "label", ("fig:a",)), (K.REF, "ref", ("fig:a",))]


# --- broken input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("\\input{a\n\\include{b}", [(K.INCLUDE, "include", ("b",))], id="unclosed"),
        pytest.param(
            "\\input{a\n\n\\include{b}}", [(K.INCLUDE, "include", ("b",))], id="unclosed_paragraph"
        ),
        pytest.param("\\cite[p.~2{k}\n\\ref{r}", [(K.REF, "ref", ("r",))], id="unclosed_optional"),
        pytest.param("\\cite[p]{k", [], id="unclosed_at_end"),
        pytest.param(
            "\\includegraphics[a}]{f}\\ref{r}", [(K.REF, "ref", ("r",))], id="stray_brace"
        ),
        pytest.param("}}}\\label{a}{{{", [(K.LABEL, "label", ("a",))], id="stray_braces_around"),
        pytest.param("\\", [], id="lone_backslash"),
        pytest.param("\\ref", [], id="no_argument"),
        pytest.param("\\ref x \\ref{y}", [(K.REF, "ref", ("y",))], id="unbraced_argument"),
        pytest.param("\\verb", [], id="lone_verb"),
        pytest.param("\\begin{verb", [], id="unclosed_begin"),
        pytest.param("\x00\xff\ufffd\\cite{\x00}", [(K.CITE, "cite", ("\x00",))], id="binary_junk"),
        pytest.param("", [], id="empty"),
    ],
)
def test_broken_text(text, expected):
    assert found(text) == expected


def test_unclosed_argument_keeps_later_lines_right():
    text = "\\input{a\nline two\n\\label{l}"
    assert positions(text) == [("label", 3, 1)]


def test_records_are_frozen():
    (command,) = scan_tex(r"\label{a}")
    assert command == TexCommand(K.LABEL, "label", ("a",), 1, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.line = 2  # type: ignore[misc]


# --- properties -------------------------------------------------------------------------------

NAME_FRAGMENTS = [
    "\\input", "\\include", "\\includeonly", "\\includegraphics", "\\import", "\\graphicspath",
    "\\bibliography", "\\addbibresource", "\\label", "\\ref", "\\cref", "\\crefrange", "\\cite",
    "\\citep", "\\cites", "\\nocite", "\\verb", "\\begin{verbatim}", "\\end{verbatim}",
    "\\begin{minted}", "\\iffalse", "\\ifx", "\\else", "\\fi", "\\let", "\\\\", "\\%",
]  # fmt: skip
LATEXISH = st.lists(
    st.one_of(st.text(alphabet="\\{}[]()%*\n abc#,|", max_size=8), st.sampled_from(NAME_FRAGMENTS)),
    max_size=40,
).map("".join)
TEXTS = st.one_of(st.text(), LATEXISH)


def line_count(text: str) -> int:
    return max(1, len(text.splitlines()))


@settings(deadline=timedelta(milliseconds=500))
@given(TEXTS)
def test_never_raises_and_returns_records(text):
    commands = scan_tex(text)
    assert isinstance(commands, tuple)
    assert all(isinstance(c, TexCommand) and isinstance(c.kind, CommandKind) for c in commands)
    assert all(t and t == t.strip() for c in commands for t in c.targets)


@settings(deadline=timedelta(milliseconds=500))
@given(TEXTS)
def test_positions_point_at_the_command(text):
    commands = scan_tex(text)
    lines = text.split("\n")
    for command in commands:
        assert 1 <= command.line <= line_count(text)
        assert command.column >= 1
        assert lines[command.line - 1][command.column - 1 :].startswith("\\" + command.name)
    keys = [(c.line, c.column) for c in commands]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


SAFE_LINE = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\\%{}[]()"
    ),
    max_size=30,
)
KEY = st.from_regex(r"[A-Za-z][A-Za-z0-9:_.-]{0,12}", fullmatch=True)
SINGLE_KEY_COMMANDS = [
    ("input", K.INPUT), ("subfile", K.INPUT), ("include", K.INCLUDE),
    ("includegraphics", K.GRAPHICS), ("addbibresource", K.BIBRESOURCE),
    ("bibliography", K.BIBRESOURCE), ("label", K.LABEL),
    *((name, K.REF) for name in REF_NAMES), *((name, K.CITE) for name in CITE_NAMES),
]  # fmt: skip


@st.composite
def placed_command(draw):
    name, kind = draw(st.sampled_from(SINGLE_KEY_COMMANDS))
    key = draw(KEY)
    star = "" if name == "input" else draw(st.sampled_from(["", "*"]))
    most = {K.GRAPHICS: 2, K.REF: 2, K.CITE: 2, K.LABEL: 1}.get(kind, int(name == "addbibresource"))
    options = draw(st.sampled_from(["", "[opt]", "[a][b]"][: most + 1]))
    space = draw(st.sampled_from(["", " ", "\n  "]))
    return f"\\{name}{star}{options}{space}{{{key}}}", kind, name, key


@given(
    st.lists(SAFE_LINE, max_size=12), SAFE_LINE, placed_command(), st.lists(SAFE_LINE, max_size=3)
)
def test_command_after_k_lines_is_found_on_line_k_plus_1(before, prefix, placed, after):
    source, kind, name, key = placed
    text = (
        "".join(f"{line}\n" for line in before)
        + prefix
        + source
        + "".join(f"\n{line}" for line in after)
    )
    assert scan_tex(text) == (TexCommand(kind, name, (key,), len(before) + 1, len(prefix) + 1),)


# --- \\url-like arguments -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("\\url{http://x.org/a%20b} \\ref{a}", id="percent_in_url"),
        pytest.param("\\href{http://x.org/%7E}{home} \\ref{a}", id="percent_in_href"),
        pytest.param("\\url|a%b| \\ref{a}", id="url_with_bars"),
        pytest.param("\\path{a/{b}/%c} \\ref{a}", id="nested_braces_in_path"),
    ],
)
def test_percent_in_a_url_is_not_a_comment(text):
    assert found(text) == [(K.REF, "ref", ("a",))]


def test_commands_in_a_url_are_not_read():
    assert found("\\url{\\ref{no}} \\ref{a}") == [(K.REF, "ref", ("a",))]


def test_an_unclosed_url_is_read_as_text():
    assert found("\\url{a\n\n\\ref{a}") == [(K.REF, "ref", ("a",))]


# --- scan_global_state ----------------------------------------------------------------------


def state(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """(name, targets) of every state-changing command."""
    commands = scan_global_state(text)
    assert all(c.kind is K.STATE for c in commands)
    return [(c.name, c.targets) for c in commands]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "\\setlength{\\parindent}{0pt}", [("setlength", ("\\parindent",))], id="top_level"
        ),
        pytest.param(
            "\\begin{table}\\setlength{\\tabcolsep}{1pt}\\end{table}", [], id="inside_table"
        ),
        pytest.param("{\\setlength{\\parindent}{0pt}}", [], id="inside_braces"),
        pytest.param("\\begingroup\\def\\a{}\\endgroup", [], id="inside_begingroup"),
        pytest.param("\\bgroup\\let\\a\\b\\egroup", [], id="inside_bgroup"),
        pytest.param("{\\gdef\\a{x}}", [("gdef", ("\\a",))], id="gdef_inside_braces"),
        pytest.param(
            "\\begin{figure}\\xdef\\a{x}\\end{figure}", [("xdef", ("\\a",))], id="xdef_in_env"
        ),
        pytest.param("{\\global\\let\\a\\b}", [("global", ("\\let",))], id="global_prefix"),
        pytest.param("% \\renewcommand{\\thefigure}{x}", [], id="commented_renewcommand"),
        pytest.param(
            "\\renewcommand{\\thefigure}{\\arabic{figure}}",
            [("renewcommand", ("\\thefigure",))],
            id="renewcommand_the_counter",
        ),
        pytest.param("\\begin{verbatim}\\def\\a{}\\end{verbatim}", [], id="verbatim"),
        pytest.param("\\verb|\\def\\a{}|", [], id="verb"),
        pytest.param("\\iffalse\\def\\a{}\\fi", [], id="iffalse"),
        pytest.param(
            "\\newcommand*{\\a}[1]{\\setlength{\\b}{#1}}",
            [("newcommand", ("\\a",))],
            id="body_not_reported",
        ),
        pytest.param(
            "\\newcounter{step}\\setcounter{step}{2}\\stepcounter{step}",
            [("newcounter", ("step",))],
            id="counter_values_not_reported",
        ),
        pytest.param(
            "\\newtheorem{theorem}{Theorem}\\newenvironment{proofsketch}{}{}",
            [("newtheorem", ("theorem",)), ("newenvironment", ("proofsketch",))],
            id="named_definitions",
        ),
        pytest.param(
            "\\makeatletter\\def\\@a{}\\makeatother",
            [("makeatletter", ()), ("def", ("\\@a",)), ("makeatother", ())],
            id="makeatletter",
        ),
        pytest.param("\\catcode`\\@=11", [("catcode", ())], id="catcode"),
        pytest.param(
            "\\pagestyle{plain}\\pagenumbering{roman}\\hypersetup{hidelinks}",
            [("pagestyle", ("plain",)), ("pagenumbering", ("roman",)), ("hypersetup", ())],
            id="page_and_package_settings",
        ),
        pytest.param(
            "\\begin{document}\\def\\a{}\\end{document}",
            [("def", ("\\a",))],
            id="document_is_no_group",
        ),
        pytest.param("\\{\\def\\a{}\\}", [("def", ("\\a",))], id="escaped_braces_no_group"),
        pytest.param("} \\def\\a{}", [("def", ("\\a",))], id="stray_close_brace"),
        pytest.param(
            "\\let\\ifdraft\\iffalse \\def\\a{}",
            [("let", ("\\ifdraft",)), ("def", ("\\a",))],
            id="let_iffalse_is_not_skipped_text",
        ),
        pytest.param("\\newlength", [("newlength", ())], id="no_argument"),
    ],
)
def test_global_state(text, expected):
    assert state(text) == expected


def test_global_state_positions():
    text = "\\chapter{A}\n  {\\gdef\\a{}}\n\\newlength{\\b}\n"
    assert [(c.line, c.column) for c in scan_global_state(text)] == [(2, 4), (3, 1)]


@settings(deadline=timedelta(milliseconds=500))
@given(TEXTS)
def test_global_state_never_raises_and_lines_are_in_range(text):
    commands = scan_global_state(text)
    lines = text.split("\n")
    for command in commands:
        assert command.kind is K.STATE
        assert 1 <= command.line <= line_count(text)
        assert lines[command.line - 1][command.column - 1 :].startswith("\\" + command.name)


# --- scan_control_words and scan_braces -----------------------------------------------------


def test_control_words_skip_what_scan_tex_skips():
    text = (
        "\\begin{figure*}\n% \\caption{no}\n\\verb|\\caption|\\iffalse\\caption\\fi"
        "\\caption{yes}\n\\end{figure*}\\begin{verbatim}\\caption\\end{verbatim}"
    )
    assert scan_control_words(text, {"begin", "end", "caption"}) == (
        ControlWord("begin", "figure*", 0, 1, 1),
        ControlWord("caption", "", text.index("\\caption{yes}"), 3, 35),
        ControlWord("end", "figure*", text.index("\\end{figure*}"), 4, 1),
    )


B = BraceProblem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("\\label{a", [(B.UNCLOSED_ARGUMENT, "label", 1, 1)], id="argument_at_end"),
        pytest.param(
            "\\cite[p.~2]{a\n\nx}", [(B.UNCLOSED_ARGUMENT, "cite", 1, 1)], id="blank_line"
        ),
        pytest.param(
            "\\textcites(pre)[a]{b}{c",
            [(B.UNCLOSED_GROUP, "", 1, 22)],
            id="multicite_only_first_keys_are_the_argument",
        ),
        pytest.param("\\input{a", [(B.UNCLOSED_ARGUMENT, "input", 1, 1)], id="input"),
        pytest.param("ab\n {x", [(B.UNCLOSED_GROUP, "", 2, 2)], id="group"),
        pytest.param("}{}", [(B.STRAY_CLOSE, "", 1, 1)], id="stray"),
        pytest.param("\\{ \\} \\verb|{| % {\n\\url{%}", [], id="not_braces"),
        pytest.param("\\begin{verbatim}{\\end{verbatim}\\iffalse}\\fi", [], id="skipped"),
        pytest.param("\\ref{a} {\\bf\n\nx}", [], id="group_over_a_paragraph"),
    ],
)
def test_braces(text, expected):
    found = [(b.problem, b.command, b.line, b.column) for b in scan_braces(text)]
    assert found == expected


def test_unclosed_argument_is_reported_once():
    assert scan_braces("\\ref{a") == (UnbalancedBrace(B.UNCLOSED_ARGUMENT, "ref", 1, 1),)


@settings(deadline=timedelta(milliseconds=500))
@given(TEXTS)
def test_braces_and_control_words_never_raise_and_lines_are_in_range(text):
    lines = text.split("\n")
    for brace in scan_braces(text):
        assert 1 <= brace.line <= line_count(text) and brace.column >= 1
        rest = lines[brace.line - 1][brace.column - 1 :]
        if brace.problem is B.UNCLOSED_ARGUMENT:
            assert rest.startswith("\\" + brace.command)
        else:
            assert rest[:1] == ("}" if brace.problem is B.STRAY_CLOSE else "{")
    for word in scan_control_words(text, {"begin", "end", "ref"}):
        assert 1 <= word.line <= line_count(text)
        assert text.startswith("\\" + word.name, word.offset)


@settings(deadline=timedelta(milliseconds=500))
@given(st.text(alphabet="{}ab \n", max_size=60))
def test_plain_braces_are_balanced_exactly_when_nothing_is_reported(text):
    depth, balanced = 0, True
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        balanced = balanced and depth >= 0
    assert (scan_braces(text) == ()) == (balanced and depth == 0)
