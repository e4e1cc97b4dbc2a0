"""JSON Merge Patch: the examples of RFC 7386 appendix A, and the fields a patch sets."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.documents.merge_patch import merge_patch, patched_fields

RFC_7386_APPENDIX_A = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC_7386_APPENDIX_A)
def test_rfc_7386_appendix_a(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


def test_merge_patch_shares_nothing_with_its_inputs() -> None:
    target = {"config": {"tags": ["a"]}}
    patch = {"address": {"lines": ["1 Main St"]}}
    merged = merge_patch(target, patch)
    merged["config"]["tags"].append("b")
    merged["address"]["lines"].append("x")
    assert target == {"config": {"tags": ["a"]}}
    assert patch == {"address": {"lines": ["1 Main St"]}}


def test_patched_fields_are_the_leaves_of_the_patch() -> None:
    patch = {"channels": 400, "config": {"tags": ["x"], "invoice": {"due_days": None}}, "address": {}}
    assert list(patched_fields(patch)) == [
        (("channels",), 400),
        (("config", "tags"), ["x"]),
        (("config", "invoice", "due_days"), None),
        (("address",), {}),
    ]
