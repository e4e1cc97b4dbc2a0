"""Fuzzing: hypothesis throws arbitrary bytes and structure-aware documents at every parser
the outside world reaches. The bar is zero tracebacks: a handled error, or a value.

In `make test` each target tries a few dozen inputs; `make fuzz` (tests/fuzz/run.py) runs
the same targets for as long as it is given and reports how many inputs they tried.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import string
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.commands.options import parse_instant
from reconciler.desired.customers import CustomerFile
from reconciler.desired.overlays import Overlay
from reconciler.desired.schedule import check_schedule
from reconciler.documents.loader import LoadedDocument, load_document
from reconciler.errors import InvalidInput
from reconciler.model.customer import Customer
from reconciler.plan.file import load_plan
from reconciler.providers.base import LiveCustomer, UnreadableCustomer
from reconciler.providers.records import live_record

TRIED: dict[str, int] = {}
FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def _tried(target: str) -> None:
    TRIED[target] = TRIED.get(target, 0) + 1


# --- documents -----------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=20),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.sampled_from(
        [
            "NO",
            "on",
            "08:00",
            "2026-12-01",
            "~",
            "0x1F",
            "1e3",
            ".inf",
            "!!python/object",
            "&a",
            "*a",
        ]
    ),
)
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _yaml(value: Any, indent: int = 0) -> str:
    """A YAML rendering of VALUE, loose on purpose (quoting as a person might forget it)."""
    pad = " " * indent
    if isinstance(value, dict):
        return (
            "".join(
                f"{pad}{key}:\n{_yaml(item, indent + 2)}"
                if isinstance(item, dict | list) and item
                else f"{pad}{key}: {_yaml(item).strip()}\n"
                for key, item in value.items()
            )
            or f"{pad}{{}}\n"
        )
    if isinstance(value, list):
        return (
            "".join(f"{pad}- {_yaml(item, indent + 2).strip()}\n" for item in value) or f"{pad}[]\n"
        )
    return f"{pad}{value}\n"


def _load(name: str, content: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        load_document(Path(name), content)


@FAST
@given(st.binary(max_size=400), st.sampled_from(["x.yaml", "x.toml"]))
def test_any_bytes_load_or_say_why(content: bytes, name: str) -> None:
    _tried("loader, any bytes")
    _load(name, content)


@FAST
@given(documents)
def test_structured_yaml_loads_or_says_why(document: Any) -> None:
    _tried("loader, structured YAML")
    _load("x.yaml", _yaml({"currency": "USD", "config": document}).encode())


@FAST
@given(
    st.lists(
        st.tuples(st.text(string.ascii_letters + "._-\"'[] ", max_size=12), scalars), max_size=8
    )
)
def test_structured_toml_loads_or_says_why(pairs: list[tuple[str, Any]]) -> None:
    _tried("loader, structured TOML")
    text = "".join(f"{key} = {json.dumps(value, default=str)}\n" for key, value in pairs)
    _load("x.toml", text.encode())


# --- a customer's own TOML, and a live record ---------------------------------------------

_TOML_PIECES = st.sampled_from(['a = ', 'b.c = ', '[t]\n', '[[a]]\n', '"x"', "'y'", '1_0', '0x1F', '1e5', 'nan', '\n', '{', '}', '[', ']', ',', '.'])
# Texts past the TOML reader's limits, by each way: nesting, a key's parts, an integer's digits.
_PAST_LIMITS = st.builds(
    lambda kind, count: {
        "arrays": "a = " + "[" * count + "]" * count,
        "tables": "a = " + "{b = " * count + "1" + "}" * count,
        "key": "a" + ".a" * count + " = 1",
        "digits": "a = " + "9" * count,
    }[kind],
    st.sampled_from(["arrays", "tables", "key", "digits"]),
    st.integers(min_value=300, max_value=6000),
)
vars_texts = st.one_of(st.lists(_TOML_PIECES, max_size=30).map("".join), _PAST_LIMITS, st.text(max_size=60))


@FAST
@given(vars_texts)
def test_a_customer_s_vars_validate_or_say_why(text: str) -> None:
    """The vars field, from a file or from a row of the live store (a live record is
    validated as a customer): a customer, or that customer's problem; never a traceback."""
    _tried("model, vars text")
    record = live_record("acme", {"currency": "USD", "config": {"vars": text}}, version=1, managed=True, active=True)
    assert isinstance(record, LiveCustomer | UnreadableCustomer)


# --- overlay evaluation --------------------------------------------------------------------

patches = st.dictionaries(
    st.sampled_from(
        ["channels", "flow_speed", "status", "currency", "name", "config", "notes", "bogus"]
    ),
    documents,
    max_size=4,
)


@FAST
@given(
    patches,
    st.datetimes(timezones=st.just(dt.UTC)),
    st.one_of(st.none(), st.datetimes(timezones=st.just(dt.UTC))),
)
def test_overlay_evaluation_reports_or_evaluates(
    patch: dict[str, Any], start: dt.datetime, until: dt.datetime | None
) -> None:
    _tried("overlay evaluation")
    base_document = LoadedDocument(
        Path("customers.d/acme.yaml"), {"currency": "USD", "channels": 1}
    )
    base = {
        "acme": CustomerFile(
            "acme", Customer(name="acme", currency="USD", channels=1), base_document
        )
    }
    data = {"reason": "fuzz", "customers": {"acme": patch}}
    overlay = Overlay(
        Path("plans/x.yaml"),
        start,
        until if until and until > start else None,
        "fuzz",
        data["customers"],
        {},
        LoadedDocument(Path("plans/x.yaml"), data),
    )
    check_schedule(base, [overlay])


# --- instants ------------------------------------------------------------------------------


@FAST
@given(
    st.one_of(
        st.text(max_size=40),
        st.datetimes().map(lambda moment: moment.isoformat() + "+14:00"),
        st.datetimes().map(lambda moment: moment.isoformat() + "-12:00"),
    )
)
def test_at_parses_or_says_why(text: str) -> None:
    _tried("--at parsing")
    with contextlib.suppress(argparse.ArgumentTypeError):
        parse_instant(text)


# --- the plan file -------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=16)
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
PLAN_KEYS = [
    "plan_id",
    "format",
    "at",
    "commit",
    "dirty",
    "provider",
    "target",
    "fleet_size",
    "changes",
    "blocked",
    "held",
    "bulk_blocked",
    "warnings",
    "unmanaged",
]


@FAST
@given(
    st.one_of(
        st.binary(max_size=300).map(lambda raw: (raw, None)),
        st.dictionaries(st.sampled_from(PLAN_KEYS), json_values).map(
            lambda document: (None, document)
        ),
    )
)
def test_a_plan_file_loads_or_says_why(
    given_input: tuple[bytes | None, dict[str, Any] | None],
) -> None:
    _tried("plan file")
    raw, document = given_input
    path = Path(f"/tmp/reconciler-fuzz-plan-{id(given_input)}.json")
    try:
        path.write_bytes(raw if raw is not None else json.dumps(document, default=str).encode())
        load_plan(path)
    except InvalidInput:
        pass
    finally:
        path.unlink(missing_ok=True)
