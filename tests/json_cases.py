"""Documents for the property tests of the encoders that take a document in parts
(`model.fields.json_parts`, `plan.file.indented_json`): a JSON document whole, and the same
document with some of its lists given as iterators, each to be read once."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)


@st.composite
def documents_in_parts(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(a document, the same document with some of its list values as iterators)."""
    document = draw(st.dictionaries(st.text(max_size=6), VALUES, max_size=5))
    lists = draw(st.dictionaries(st.text(max_size=6), st.lists(VALUES, max_size=4), max_size=3))
    return {**document, **lists}, {**document, **{key: iter(value) for key, value in lists.items()}}
