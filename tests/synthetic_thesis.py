"""A synthetic thesis for assembly tests and benchmarks, generated deterministically.

report class, twoside/openright, roman front matter (title, abstract, ToC, LoF, LoT), arabic
chapters with sections, a figure, a table and an equation each, numeric biblatex citations
(biber), hyperref, cleveref, and references from every chapter to its neighbours. Some
bibliography entries are never cited, so a test can cite a new key.

``realistic=True`` writes what a real thesis costs TeX per page (for benchmarks; the
repository's own thesis is the model): microtype, author-year citations in most paragraphs,
inline and display mathematics, a booktabs table and a matplotlib plot per section.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

_VOCABULARY = (
    "population cycle hare lynx predator prey model fitted record boreal forest trapping "
    "estimate parameter equation orbit period amplitude phase delay residual bootstrap "
    "variance sample interval confidence likelihood numerical solver stiff tolerance step "
    "equilibrium stability neutral conserved quantity harvest season winter snow density "
    "growth mortality encounter rate response saturation limitation stochastic forcing "
    "signal noise spectrum autocorrelation lag regression observation process latent"
)
WORDS = tuple(_VOCABULARY.split())

PREAMBLE = r"""\documentclass[11pt,a4paper,twoside,openright]{report}
\usepackage[T1]{fontenc}
\usepackage{lmodern}
\usepackage{amsmath}
\usepackage[backend=biber,style=numeric]{biblatex}
\addbibresource{bib/refs.bib}
\usepackage[pdftitle={A Synthetic Thesis},pdfauthor={A. Generator},bookmarksnumbered]{hyperref}
\usepackage{cleveref}
"""

REALISTIC_PREAMBLE = r"""\documentclass[11pt,a4paper,twoside,openright]{report}
\usepackage[T1]{fontenc}
\usepackage{lmodern}
\usepackage{microtype}
\usepackage{amsmath}
\usepackage{graphicx}
\usepackage{booktabs}
\usepackage[backend=biber,style=authoryear,maxcitenames=2,uniquelist=false]{biblatex}
\addbibresource{bib/refs.bib}
\usepackage[pdftitle={A Synthetic Thesis},pdfauthor={A. Generator},bookmarksnumbered,
  hidelinks]{hyperref}
\usepackage[capitalise,noabbrev]{cleveref}
"""

MATH = (
    r"$\hat\alpha = 0.53\,\mathrm{yr}^{-1}$",
    r"$x^{*} = \gamma/\delta$",
    r"$\sum_{t=1}^{n} (\log x_t - \log \hat x_t)^2$",
    r"$\mathrm{e}^{-\beta y}$",
    r"$y_{t+1} = y_t + \Delta t\, f(x_t, y_t)$",
)


@dataclass(frozen=True)
class SyntheticThesis:
    root: Path
    chapters: tuple[str, ...]  # chapter names (file stems), in order
    cited: tuple[str, ...]  # bibliography keys cited somewhere
    uncited: tuple[str, ...]  # keys in the .bib that nothing cites

    def chapter_path(self, name: str) -> Path:
        return self.root / "chapters" / f"{name}.tex"


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random, words: int) -> str:
    sentences: list[str] = []
    count = 0
    while count < words:
        sentence = _sentence(rng)
        sentences.append(sentence)
        count += len(sentence.split())
    return " ".join(sentences)


def chapter_name(index: int) -> str:
    return f"ch{index:02d}"


def _realistic_paragraph(rng: random.Random, words: int, index: int, cited: list[str]) -> str:
    """Prose with inline mathematics, a citation and a cross-reference, like a real thesis."""
    text = _paragraph(rng, words)
    sentences = text.split(". ")
    key = cited[rng.randrange(len(cited))]
    cite = rng.choice((f"as \\textcite{{{key}}} found", f"\\parencite{{{key}}}"))
    sentences.insert(1, f"The estimate {rng.choice(MATH)} agrees with earlier work {cite}")
    sentences.insert(3, f"With {rng.choice(MATH)} the result of \\cref{{eq:{index}}} holds")
    return ". ".join(sentences)


def render_chapter(
    index: int,
    chapters: int,
    *,
    sections: int,
    paragraphs: int,
    words: int,
    cited: list[str],
    seed: int,
    realistic: bool = False,
) -> str:
    """The text of chapter ``index`` (1-based)."""
    rng = random.Random(seed * 1000 + index)
    lines = [
        f"\\chapter{{Chapter number {index}}}\\label{{chap:{index}}}",
        "",
        _paragraph(rng, words // 2),
        "",
    ]
    for section in range(1, sections + 1):
        lines += [f"\\section{{Section {index}.{section}}}\\label{{sec:{index}.{section}}}", ""]
        for paragraph in range(paragraphs):
            text = (
                _realistic_paragraph(rng, words, index, cited)
                if realistic
                else _paragraph(rng, words)
            )
            if paragraph == 0 and section == 1:
                key = cited[(index - 1) % len(cited)]
                text += f" This follows \\textcite{{{key}}}."
            if paragraph == 1 and section == 1:
                other = index % chapters + 1
                text += (
                    f" See \\cref{{sec:{other}.1}} and \\cref{{fig:{other}}}, and "
                    f"\\cref{{eq:{index}}} below."
                )
            if paragraph == 0 and section == 2:
                key = cited[index % len(cited)]
                text += f" Compare \\cite{{{key}}}."
            if paragraph == 0 and section == 1 and index == chapters and chapters > 1:
                text += " Section~\\ref{sec:1.2} starts on page~\\pageref{sec:1.2}."
            lines += [text, ""]
        if realistic and section > 1:
            plot = (index + section) % PLOTS
            derivative = "\\frac{{\\mathrm{{d}}{0}}}{{\\mathrm{{d}}t}}"
            lines += [
                "\\begin{align}",
                f"  {derivative.format('x')} &= \\alpha_{{{section}}} x - \\beta xy,"
                f"\\label{{eq:{index}.{section}a}} \\\\",
                f"  {derivative.format('y')} &= \\delta xy - \\gamma_{{{section}}} y."
                f"\\label{{eq:{index}.{section}b}}",
                "\\end{align}",
                "",
                "\\begin{figure}[tbp]",
                "  \\centering",
                f"  \\includegraphics[width=0.8\\textwidth]{{figures/plot{plot}}}",
                f"  \\caption{{A plot of section {index}.{section}.}}"
                f"\\label{{fig:{index}.{section}}}",
                "\\end{figure}",
                "",
                "\\begin{table}[tbp]",
                "  \\centering",
                f"  \\caption{{Estimates of section {index}.{section}.}}"
                f"\\label{{tab:{index}.{section}}}",
                "  \\begin{tabular}{lrrr}",
                "    \\toprule",
                "    parameter & estimate & lower & upper \\\\",
                "    \\midrule",
                *(
                    f"    $\\theta_{{{row}}}$ & {row}.{index:02d} & {row - 1}.9 & {row}.8 \\\\"
                    for row in range(1, 6)
                ),
                "    \\bottomrule",
                "  \\end{tabular}",
                "\\end{table}",
                "",
            ]
        if section == 1:
            lines += [
                "\\begin{equation}",
                f"  x_{{t+1}} = x_t \\exp\\bigl(r_{index} - a x_t - b y_t\\bigr)"
                f"\\label{{eq:{index}}}",
                "\\end{equation}",
                "",
                "\\begin{figure}[tbp]",
                "  \\centering",
                "  \\fbox{\\rule{0pt}{3cm}\\rule{6cm}{0pt}}",
                f"  \\caption{{A figure of chapter {index}.}}\\label{{fig:{index}}}",
                "\\end{figure}",
                "",
            ]
        if section == 2:
            lines += [
                "\\begin{table}[tbp]",
                "  \\centering",
                f"  \\caption{{A table of chapter {index}.}}\\label{{tab:{index}}}",
                "  \\begin{tabular}{lrr}",
                "    quantity & value & error \\\\",
                f"    rate & {index}.25 & 0.{index % 10}1 \\\\",
                f"    period & {index + 8}.5 & 1.{index % 10} \\\\",
                "  \\end{tabular}",
                "\\end{table}",
                "",
            ]
    return "\n".join(lines) + "\n"


PLOTS = 6


def write_plots(folder: Path) -> None:
    """figures/plot<N>.pdf: small matplotlib line plots (deterministic bytes)."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    for number in range(PLOTS):
        figure, axis = plt.subplots(figsize=(5, 2.5))
        xs = [t / 10 for t in range(400)]
        axis.plot(xs, [math.sin(x * (1 + number / 5)) * math.exp(-x / 40) for x in xs])
        axis.plot(xs, [math.cos(x * 0.7) * 0.5 for x in xs], linestyle="--")
        axis.set_xlabel("year")
        axis.set_ylabel("abundance")
        figure.tight_layout()
        figure.savefig(folder / f"plot{number}.pdf", metadata={"CreationDate": None})
        plt.close(figure)


def render_bib(keys: list[str]) -> str:
    entries = []
    for number, key in enumerate(keys):
        entries.append(
            f"@article{{{key},\n"
            f"  author = {{Author{chr(65 + number % 26)}, Given and Other, Second}},\n"
            f"  title = {{On the topic numbered {number}}},\n"
            f"  journal = {{Journal of Synthetic Results}},\n"
            f"  year = {{{1950 + number}}},\n"
            f"  volume = {{{number + 1}}},\n"
            f"  pages = {{{number + 1}--{number + 9}}},\n"
            f"}}\n"
        )
    return "\n".join(entries)


def render_main(names: list[str], *, realistic: bool = False) -> str:
    includes = "\n".join(f"\\include{{chapters/{name}}}" for name in names)
    return (
        (REALISTIC_PREAMBLE if realistic else PREAMBLE)
        + r"""
\title{A Synthetic Thesis}
\author{A. Generator}
\date{1 January 2024}

\begin{document}
\pagenumbering{roman}
\maketitle

\chapter*{Abstract}
\addcontentsline{toc}{chapter}{Abstract}
This thesis is generated. It exists so that the build can be tested and measured.

\tableofcontents
\listoffigures
\listoftables

\cleardoublepage
\pagenumbering{arabic}

"""
        + includes
        + r"""

\printbibliography[heading=bibintoc]
\end{document}
"""
    )


def write_thesis(
    root: Path,
    *,
    chapters: int = 3,
    sections: int = 2,
    paragraphs: int = 3,
    words: int = 120,
    seed: int = 0,
    realistic: bool = False,
) -> SyntheticThesis:
    """Write thesis.tex, chapters/ and bib/refs.bib (and figures/ when realistic)."""
    names = [chapter_name(i) for i in range(1, chapters + 1)]
    keys = [f"key{number:02d}" for number in range(max(6, chapters + 4))]
    cited = keys[: max(3, min(len(keys) - 3, chapters + 1))]
    uncited = keys[len(cited) :]
    (root / "chapters").mkdir(parents=True, exist_ok=True)
    (root / "bib").mkdir(exist_ok=True)
    (root / "thesis.tex").write_text(render_main(names, realistic=realistic))
    if realistic:
        write_plots(root / "figures")
    (root / "bib" / "refs.bib").write_text(render_bib(keys))
    for index, name in enumerate(names, start=1):
        text = render_chapter(
            index,
            chapters,
            sections=sections,
            paragraphs=paragraphs,
            words=words,
            cited=cited,
            seed=seed,
            realistic=realistic,
        )
        (root / "chapters" / f"{name}.tex").write_text(text)
    return SyntheticThesis(root, tuple(names), tuple(cited), tuple(uncited))
