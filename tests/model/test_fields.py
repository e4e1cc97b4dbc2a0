"""The canonical form of a customer (`model.fields`): money with its cents, other decimals as
short as they are exact, instants in UTC with a Z, and one byte string per customer: equal
customers give equal bytes, different ones different bytes."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from customer_cases import customers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from json_cases import VALUES, documents_in_parts

from reconciler.model.customer import Customer
from reconciler.model.fields import (
    DECIMAL_FIELDS,
    DIGEST_LENGTH,
    MONEY_FIELDS,
    Digests,
    canonical,
    canonical_bytes,
    canonical_document,
    canonical_fields,
    decimal_text,
    default_fields,
    digest,
    flatten,
    is_digest,
    json_bytes,
    json_parts,
    unflatten,
)

# --- decimal_text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "money", "text"),
    [
        ("500", True, "500.00"),
        ("500.0", True, "500.00"),
        ("500.0000", True, "500.00"),
        ("0.1234", True, "0.1234"),
        ("0.1", True, "0.10"),
        ("12.3400", True, "12.34"),
        ("-5", True, "-5.00"),
        ("1E+2", True, "100.00"),
        ("1E-4", True, "0.0001"),
        ("2.50", False, "2.5"),
        ("40", False, "40"),
        ("40.000", False, "40"),
        ("1E+2", False, "100"),
        ("0.0001", False, "0.0001"),
        ("-2.50", False, "-2.5"),
        # Zero in any spelling is zero.
        ("-0", False, "0"),
        ("0E-4", False, "0"),
        ("-0.00", True, "0.00"),
        ("0E-4", True, "0.00"),
    ],
)
def test_decimal_text(amount: str, money: bool, text: str) -> None:
    assert decimal_text(Decimal(amount), money=money) == text


def test_money_is_not_rounded_to_cents() -> None:
    assert decimal_text(Decimal("123456789012345.1234"), money=True) == "123456789012345.1234"


# --- canonical -----------------------------------------------------------------------------


def test_canonical_dates_times_and_instants() -> None:
    assert canonical(dt.date(2026, 12, 1)) == "2026-12-01"
    assert canonical(dt.time(8, 5)) == "08:05"
    assert canonical(dt.time(8, 5, 30)) == "08:05:30"  # seconds are kept, never dropped
    assert canonical(dt.datetime(2026, 12, 24, 18, 0)) == "2026-12-24T18:00:00"  # a local date-time has no zone to add
    assert canonical(dt.datetime(2026, 12, 24, 19, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))) == "2026-12-24T18:00:00Z"
    assert canonical(dt.datetime(2026, 12, 24, 18, 0, 0, 999_999, tzinfo=dt.UTC)) == "2026-12-24T18:00:00Z"


def test_canonical_decimals_depend_on_the_field() -> None:
    document = {
        "debit_limit": Decimal("5"),
        "flow_speed": Decimal("2.50"),
        "tax_percent": Decimal("20.0"),
        "config": {"daily_spend_limit": Decimal("1"), "portal_access": {"cdr": "show"}},
        "elsewhere": [Decimal("1.0"), (1, True, None)],
    }
    assert canonical(document) == {
        "debit_limit": "5.00",
        "flow_speed": "2.5",
        "tax_percent": "20",
        "config": {"daily_spend_limit": "1.00", "portal_access": {"cdr": "show"}},
        "elsewhere": ["1", [1, True, None]],
    }
    assert sorted(MONEY_FIELDS) == ["config.daily_spend_limit", "debit_limit", "minimum_payment"]
    assert sorted(DECIMAL_FIELDS - MONEY_FIELDS) == ["flow_speed", "tax_percent"]


def test_a_value_without_a_canonical_form_names_its_field() -> None:
    assert canonical({"config": {"limit": 1.5}}) == {"config": {"limit": "1.5"}}  # a live store may hold a float
    with pytest.raises(TypeError) as caught:
        canonical(object())
    assert str(caught.value) == "value: object has no canonical JSON form"


def test_the_canonical_document_is_in_the_forms_order_and_json() -> None:
    acme = Customer.model_validate({
        "currency": "USD", "name": "Acme", "debit_limit": Decimal("1000"), "flow_speed": Decimal("2.50"),
        "config": {"tags": ["b", "a"]},
        "day_time_restriction": {"timezone": "UTC", "windows": [{"from": dt.time(8), "to": "18:00"}]},
    })
    document = canonical_document(acme)
    assert list(document)[:4] == ["name", "renamed_from", "channels", "flow_speed"]
    assert (document["debit_limit"], document["flow_speed"], document["config"]["tags"]) == ("1000.00", "2.5", ["a", "b"])
    assert document["day_time_restriction"] == {
        "timezone": "UTC", "windows": [{"from": "08:00", "to": "18:00", "days": None}],
    }
    assert json.loads(canonical_bytes(acme)) == document
    assert canonical_bytes(acme).startswith(b'{"address":{"city":null,"country":null,')


def test_flatten_and_unflatten() -> None:
    document = {"config": {"invoice": {"due_days": 3}, "portal_access": {"cdr": "show"}}, "channels": 1}
    flat = flatten(document)
    assert flat == {"config.invoice.due_days": 3, "config.portal_access": {"cdr": "show"}, "channels": 1}
    assert unflatten(flat) == document
    # A path is one string however many documents hold it (a plan of 100,000 creates holds millions).
    again = flatten({"config": {"invoice": {"due_days": 4}}})
    assert next(iter(again)) is next(iter(flat))


def test_flatten_names_each_key_as_its_own_document_spells_it() -> None:
    """Paths are remembered by branch and key (`fields._PATHS`): a key that hashes like
    another (1, True, 1.0) is not given the other's path, and keys past what is remembered
    are named all the same."""
    assert list(flatten({"a": {1: "x"}})) == ["a.1"]
    assert list(flatten({"a": {True: "x", 2.0: "y"}})) == ["a.True", "a.2.0"]
    many = {f"key{number}": number for number in range(600)}
    assert flatten({"wide": many}) == {f"wide.key{number}": number for number in range(600)}
    assert flatten({"wide": many}) == {f"wide.key{number}": number for number in range(600)}


def test_default_fields_hold_every_leaf_in_the_forms_order() -> None:
    fields = default_fields()
    assert len(fields) == 42
    assert list(fields)[:3] == ["name", "renamed_from", "channels"]
    assert (fields["debit_limit"], fields["flow_speed"], fields["config.tags"]) == ("0.00", "0", [])
    assert fields["config.portal_access"] == {}


# --- one byte string per customer ------------------------------------------------------------

SET_LISTS = (("topup_currencies",), ("config", "tags"))
DECIMALS = [tuple(path.split(".")) for path in sorted(DECIMAL_FIELDS)]


def _get(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(document, dict) or part not in document:
            return None
        document = document[part]
    return document


def _set(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        document = document[part]
    document[path[-1]] = value


@st.composite
def respelt(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    """The same customer written another way: amounts as 500, 500.0 or "500.00"; sets and
    maps in another order."""
    other = copy.deepcopy(document)
    for path in DECIMALS:
        amount = _get(other, path)
        if amount is None:
            continue
        spellings = [amount, amount.quantize(Decimal("0.0001")), str(amount), amount.normalize()]
        if amount == amount.to_integral_value():
            spellings.append(int(amount))
        _set(other, path, draw(st.sampled_from(spellings)))
    for path in SET_LISTS:
        items = _get(other, path)
        if items:
            _set(other, path, draw(st.permutations(items)))
    access = _get(other, ("config", "portal_access"))
    if access:
        _set(other, ("config", "portal_access"), dict(reversed(list(access.items()))))
    return other


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), customers)
def test_equal_customers_give_equal_bytes(data: st.DataObject, document: dict[str, Any]) -> None:
    other = data.draw(respelt(document))
    one, two = Customer.model_validate(document), Customer.model_validate(other)
    assert one == two
    assert canonical_bytes(one) == canonical_bytes(two)
    assert digest(one) == digest(two)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(customers, customers)
def test_customers_are_equal_exactly_when_their_bytes_are(first: dict[str, Any], second: dict[str, Any]) -> None:
    one, two = Customer.model_validate(first), Customer.model_validate(second)
    assert (one == two) == (canonical_bytes(one) == canonical_bytes(two))


CHANGES = [
    ("channels", lambda value: (value or 0) + 1 if (value or 0) < 100_000 else 0),
    ("debit_limit", lambda value: value + Decimal("0.0001")),
    ("minimum_payment", lambda value: value + Decimal("0.01")),
    ("flow_speed", lambda value: value + Decimal("0.5")),
    ("status", lambda value: "penalty" if value != "penalty" else "active"),
    ("currency", lambda value: "CHF"),
    ("topup_currencies", lambda value: [*value, "CHF"]),
    ("notes", lambda value: (value or "") + "!"),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(customers, st.sampled_from(CHANGES))
def test_a_different_customer_gives_different_bytes(document: dict[str, Any], change: Any) -> None:
    field, new_value = change
    other = copy.deepcopy(document)
    other[field] = new_value(document.get(field))
    one, two = Customer.model_validate(document), Customer.model_validate(other)
    assert one != two
    assert canonical_bytes(one) != canonical_bytes(two)
    assert digest(one) != digest(two)


def test_the_kept_canonical_form_is_the_customers_own() -> None:
    """Kept on the instance once made: not a field, not carried to a copy with other values."""
    customer = Customer(currency="EUR", name="Acme", debit_limit=Decimal("500"))
    document = canonical_document(customer)
    assert canonical_document(customer) is document
    assert canonical_fields(customer)["debit_limit"] == "500.00"
    assert customer == Customer(currency="EUR", name="Acme", debit_limit=Decimal("500"))
    assert "_kept_canonical" not in customer.model_dump() and "_kept_canonical" not in customer.model_dump_json()
    kept_digest = digest(customer)
    changed = customer.model_copy(update={"debit_limit": Decimal("750")})
    assert digest(changed) != kept_digest
    assert digest(changed) == digest(Customer(currency="EUR", name="Acme", debit_limit=Decimal("750")))
    assert canonical_document(changed)["debit_limit"] == "750.00"
    assert canonical_fields(changed)["debit_limit"] == "750.00"
    assert changed != customer
    assert canonical_fields(customer.model_copy())["debit_limit"] == "500.00"


@settings(max_examples=200, deadline=None)
@given(documents=documents_in_parts())
def test_json_parts_are_the_bytes_of_json_bytes(documents: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """What a plan's id hashes a change at a time is byte for byte the JSON it hashed whole:
    whatever the keys sort as, the lists given as iterators consumed once."""
    whole, parts = documents
    assert b"".join(json_parts(parts)) == json_bytes(whole)


def _standard_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), VALUES, max_size=6) | VALUES)
def test_json_bytes_are_the_standard_librarys_bytes(value: Any) -> None:
    """The bytes every digest and plan id is taken of are those the standard library wrote
    before orjson wrote them: digests a store kept, and plan ids saved, stay valid."""
    assert json_bytes(value) == _standard_json(value)


@pytest.mark.parametrize("value", [
    2**64, -(2**63) - 1, {"channels": 10**30},  # past orjson's 64 bits
    {2: "a", 1: "b"},  # keys that are not text: json.dumps writes them as text
    "\x00\x1f\x7f\u2028\u00e9\U0001f600\"\\",  # escaped and written as themselves
])
def test_json_bytes_of_what_orjson_refuses_or_escapes(value: Any) -> None:
    assert json_bytes(value) == _standard_json(value)


def test_json_bytes_refuse_a_lone_surrogate_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        json_bytes({"name": "\ud800"})


_DIGEST = st.text("0123456789abcdef", min_size=DIGEST_LENGTH, max_size=DIGEST_LENGTH)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), pairs=st.dictionaries(st.text(min_size=1, max_size=8), _DIGEST, max_size=12))
def test_digests_held_as_one_string_are_the_map_they_stand_for(data: st.DataObject, pairs: dict[str, str]) -> None:
    """A fleet's digests as it keeps them (keys in its order, one string) answer as the map,
    take an overlay's digests in place, and give a store the keys sorted with theirs."""
    keys = data.draw(st.permutations(list(pairs)))
    held = Digests.parse(keys, "\0".join(pairs[key] for key in keys))
    assert held is not None
    assert (dict(held), list(held), len(held)) == (pairs, keys, len(pairs))
    assert all(key in held for key in pairs) and "not a key" not in held
    chosen = data.draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    changed = {key: data.draw(_DIGEST) for key in chosen}
    assert dict(held.replaced(changed)) == {**pairs, **changed}
    assert list(held.replaced(changed)) == keys
    assert held.in_order() == (sorted(pairs), "".join(pairs[key] for key in sorted(pairs)))


@pytest.mark.parametrize(
    ("keys", "separated"),
    [
        (["a", "b"], "0" * DIGEST_LENGTH),  # one digest for two keys
        (["a", "b"], "0" * (DIGEST_LENGTH - 1) + "\0" + "0" * (DIGEST_LENGTH + 1)),  # the right length, split wrong
        (["a"], "0" * (DIGEST_LENGTH - 1) + "\0"),  # a NUL inside a digest
        ([], "0" * DIGEST_LENGTH),  # digests of no keys
    ],
)
def test_kept_digests_of_another_shape_are_none(keys: list[str], separated: str) -> None:
    """What a kept fleet holds is read only when it holds one digest for each key (a cache
    damaged or written by another release is read again from the files)."""
    assert Digests.parse(keys, separated) is None


def test_digests_of_another_length_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^31 characters are not the digests of 1 keys$"):
        Digests(["a"], "0" * 31)


def test_a_digest_from_a_store_is_one_only_as_digest_makes_them() -> None:
    made = digest(Customer.model_validate({"currency": "USD"}))
    assert is_digest(made)
    for other in (made.upper(), made[:-1], made + "0", made + "\n", made[:-1] + "g", None, 5, made.encode()):
        assert not is_digest(other), other
