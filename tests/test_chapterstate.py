"""What chapters leave defined for later ones, and the earlier chapters a chapter's job carries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chapterwise.chapterstate import LeftState, carried_chapters, left_state, needs, uses
from chapterwise.texscan import scan_global_state


def state(texts: dict[str, str], macro_files: tuple[str, ...] = ()) -> LeftState:
    return left_state(texts, scan_global_state, macro_files)


def test_named_and_unnamed_state() -> None:
    left = state(
        {
            "chapters/a.tex": "\\newcommand{\\animal}{hare}\n{\\def\\local{x}}\n"
            "\\setlength{\\parskip}{2pt}\n\\newtheorem{claim}{Claim}\n",
            "tables/v.tex": "\\def\\guard{}\\newcommand{\\rate}{0.5}\n",
        },
        macro_files=("tables/v.tex",),
    )
    assert left.named == {
        "\\animal": "chapters/a.tex",
        "claim": "chapters/a.tex",
        "\\rate": "tables/v.tex",
    }
    assert left.unnamed == (("chapters/a.tex", 3, "setlength"),), "a grouped \\def is local"


def test_uses_matches_whole_control_words_and_braced_names() -> None:
    assert uses({"x": "the \\animal."}, "\\animal")
    assert not uses({"x": "the \\animals."}, "\\animal")
    assert uses({"x": "\\begin{claim}"}, "claim") and uses({"x": "\\theclaim"}, "claim")
    assert not uses({"x": "claims"}, "claim")


def test_a_definition_the_user_reads_itself_is_not_needed() -> None:
    definer = state({"tables/v.tex": "\\newcommand{\\rate}{1}\n"})
    assert not needs(definer, {"tables/v.tex": "", "chapters/b.tex": "\\rate"})
    assert needs(definer, {"chapters/b.tex": "\\rate"})


def test_carried_chapters_follow_definitions_back_through_the_thesis() -> None:
    left = {
        "one": state({"chapters/one.tex": "\\newcommand{\\animal}{hare}\n"}),
        "two": state({"chapters/two.tex": "\\newcommand{\\pet}{tame \\animal}\n"}),
        "three": state({"chapters/three.tex": "A \\pet.\n"}),
        "four": state({"chapters/four.tex": "\\setlength{\\parskip}{0pt}\nNo macros.\n"}),
        "five": state({"chapters/five.tex": "Plain.\n"}),
    }
    carried = carried_chapters(list(left), left)
    assert carried == {
        "one": (),
        "two": ("one",),
        "three": ("one", "two"),
        "four": (),
        "five": ("four",),
    }


TEXTS = st.sampled_from(
    [
        "Plain text.",
        "\\newcommand{\\a}{A}",
        "\\newcommand{\\b}{\\a}",
        "Uses \\a.",
        "Uses \\b.",
        "\\setlength{\\parskip}{1pt}",
        "{\\setlength{\\parskip}{1pt}}",
        "\\renewcommand{\\a}{B}",
    ]
)


@given(st.lists(st.lists(TEXTS, max_size=3), min_size=1, max_size=6))
def test_carried_is_closed_and_in_thesis_order(chapters: list[list[str]]) -> None:
    order = [f"c{i}" for i in range(len(chapters))]
    left = {
        name: state({f"chapters/{name}.tex": "\n".join(parts)})
        for name, parts in zip(order, chapters, strict=True)
    }
    carried = carried_chapters(order, left)
    for index, name in enumerate(order):
        chosen = carried[name]
        assert list(chosen) == [c for c in order[:index] if c in chosen], "earlier, in order"
        for position, before in enumerate(order[:index]):
            if before in chosen:
                continue
            # Only what is typeset after a chapter can use what it defines.
            later = [c for c in (*chosen, name) if order.index(c) > position]
            users = {p: t for c in later for p, t in left[c].texts.items()}
            assert not needs(left[before], users), f"{name} needs {before}"
        for other in chosen:
            assert left[other].named or left[other].unnamed, "only chapters that leave state"
