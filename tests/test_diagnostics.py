from __future__ import annotations

import pytest

from chapterwise.diagnostics import (
    ChapterwiseError,
    Diagnostic,
    Severity,
    error,
    format_diagnostic,
    has_errors,
    warning,
)


@pytest.mark.parametrize(
    ("diag", "expected"),
    [
        pytest.param(
            error(
                "undefined reference 'fig:loss'",
                "undefined-ref",
                "chapters/m.tex",
                42,
                7,
                "did you mean 'fig:losses'?",
            ),
            "chapters/m.tex:42:7: error: undefined reference 'fig:loss'; "
            "did you mean 'fig:losses'? [undefined-ref]",
            id="full",
        ),
        pytest.param(
            error("duplicate key 'smith2020'", "duplicate-key", "bib/refs.bib", 118),
            "bib/refs.bib:118: error: duplicate key 'smith2020' [duplicate-key]",
            id="no_column",
        ),
        pytest.param(
            warning("never cited", "unused-entry", "bib/refs.bib"),
            "bib/refs.bib: warning: never cited [unused-entry]",
            id="whole_file",
        ),
        pytest.param(
            error("'quarto' is not installed", "missing-tool"),
            "error: 'quarto' is not installed [missing-tool]",
            id="no_path",
        ),
        pytest.param(
            error("x", "c", "a.tex", None, 3),
            "a.tex: error: x [c]",
            id="column_without_line_is_dropped",
        ),
    ],
)
def test_format_diagnostic(diag: Diagnostic, expected: str) -> None:
    assert format_diagnostic(diag) == expected


def test_error_carries_its_diagnostics() -> None:
    first = error("a", "code-a", "x.tex", 1)
    second = warning("b", "code-b", "x.tex", 2)
    exc = ChapterwiseError([first, second])
    assert exc.diagnostics == (first, second)
    assert str(exc).splitlines() == ["x.tex:1: error: a [code-a]", "x.tex:2: warning: b [code-b]"]
    assert ChapterwiseError(first).diagnostics == (first,)


def test_has_errors() -> None:
    assert has_errors([warning("w", "w"), error("e", "e")])
    assert not has_errors([warning("w", "w"), Diagnostic(Severity.NOTE, "n", "n")])
