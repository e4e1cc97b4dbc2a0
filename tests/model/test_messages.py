"""How a message quotes a value (`model.messages.show`): short, escaped, cut."""

from __future__ import annotations

from reconciler.model.messages import SHOWN_LENGTH, show


def test_a_short_list_is_shown_whole() -> None:
    assert show(["USD", 5, None, True, ["a"]]) == "['USD', 5, null, true, ['a']]"
    assert show([]) == "[]"


def test_a_long_list_is_cut_without_reading_it_all() -> None:
    shown = show(list(range(1_000_000)))
    assert len(shown) == SHOWN_LENGTH and shown.startswith("[0, 1, 2, ") and shown.endswith("...")


def test_a_list_nested_deeper_than_python_recurses_is_cut() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert show(deep) == "[" * (SHOWN_LENGTH - 3) + "..."
