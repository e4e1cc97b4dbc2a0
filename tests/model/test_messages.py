"""How a message quotes a value (`model.messages.show`): short, escaped, cut."""

from __future__ import annotations

from reconciler.errors import escaped
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


def test_what_a_terminal_would_act_on_is_escaped_and_nothing_else() -> None:
    said = "value \x1b[2J\x9b1m\x07\x7f\r\udcff kept: tab\t, newline\n, é, ✓"
    assert escaped(said) == "value \\x1b[2J\\x9b1m\\x07\\x7f\\r\\udcff kept: tab\t, newline\n, é, ✓"
    escaped(said).encode("utf-8")  # a terminal can be sent all of it
    assert escaped("two\nlines\x1b", one_line=True) == "two\\nlines\\x1b"
