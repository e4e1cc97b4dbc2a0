"""The fields of a customer, what kind each is, and the one canonical form of a customer.

A field path is the dotted route to a leaf of a customer's document: `debit_limit`,
`config.invoice.due_days`, `day_time_restriction.windows`. Lists and free-form maps
(`config.portal_access`) are leaves: they are compared, shown and audited whole.

The canonical form is the one JSON spelling of a customer, used by every writer (plan
files, audit records, renderers, the stores, history, drift):

- money (`MONEY_FIELDS`) as an exact decimal string with at least its cents: "500.00",
  "0.1234"; other decimals as short as they are exact: "2.5", "40";
- instants as `YYYY-MM-DDTHH:MM:SSZ` (`types.instant_text`), times of day as HH:MM;
- set-like lists sorted (the model sorts them on validation);
- keys in the form's order; `canonical_bytes` sorts them, so its digest identifies a
  customer's content: equal customers give equal bytes, different ones different bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import marshal
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple

import orjson

from reconciler.model.customer import KEPT_CANONICAL, KEPT_DIGEST, KEPT_FIELDS, Customer
from reconciler.model.types import instant_text

# Maps whose keys are data, not field names: a leaf, not a branch.
LEAF_MAPS = frozenset({"config.portal_access"})
# Lists whose order means nothing on the platform (the model keeps them sorted).
SET_FIELDS = frozenset({"topup_currencies", "config.tags", "renamed_from"})
# Amounts of the customer's currency.
MONEY_FIELDS = frozenset({"debit_limit", "minimum_payment", "config.daily_spend_limit"})
# Every decimal field: money, and the rates and shares that are not money.
DECIMAL_FIELDS = MONEY_FIELDS | {"flow_speed", "tax_percent"}
# Bookkeeping of the repository, not a field of the live account.
NOT_LIVE_FIELDS = frozenset({"renamed_from"})


def field_path(path: Sequence[str | int] | None) -> str:
    """`('windows', 0, 'from')` -> `windows[0].from`, as validation names fields."""
    text = ""
    for part in path or ():
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


_LEAVES = frozenset({str, int, bool, type(None), list, Decimal})
# Each path `flatten` made, by the path of its branch and the key in it, interned: every
# customer has the same few dozen paths, and a plan of 100,000 creates holds each
# customer's (a copy of each path costs ~60 bytes, millions of times); looked up, a path is
# not made again (a third of `flatten`'s time). So many branches and keys in each at most:
# a document's own keys (a file's typo, a hostile one) are not kept past them.
_PATHS: dict[str, dict[Any, str]] = {}
_PATHS_KEPT = 256


def flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a nested document into {dotted path: leaf value}."""
    flat: dict[str, Any] = {}
    paths = _PATHS.get(prefix)
    if paths is None:
        paths = {}
        if len(_PATHS) < _PATHS_KEPT:
            _PATHS[prefix] = paths
    for key, value in document.items():
        path = paths.get(key)
        if path is None:
            path = sys.intern(f"{prefix}{key}")
            if type(key) is str and len(paths) < _PATHS_KEPT:  # not 1 for True: they hash alike
                paths[key] = path
        kind = type(value)  # a dict by identity, the rest of the values without asking the Mapping ABC
        if (kind is dict or (kind not in _LEAVES and isinstance(value, Mapping))) and path not in LEAF_MAPS:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of `flatten`."""
    document: dict[str, Any] = {}
    for path, value in flat.items():
        *parents, leaf = path.split(".")
        branch = document
        for parent in parents:
            branch = branch.setdefault(parent, {})
        branch[leaf] = value
    return document


# --- the canonical form -------------------------------------------------------------------


def decimal_text(amount: Decimal, *, money: bool = False) -> str:
    """The exact text of an amount: as short as it is exact ("2.5", "40"), or for money
    with at least its cents ("500.00", "0.1234")."""
    if amount == 0:
        amount = Decimal(0)  # -0 and 0E-4 are zero
    text = format(amount.normalize(), "f")
    if not money:
        return text
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def canonical(value: Any, path: str = "") -> Any:
    """A value as JSON holds it, spelt the one canonical way; `path` is the field it is in
    (decides whether a decimal is money)."""
    # The types a model's dump holds, told by identity first: this runs on every value of
    # every customer. Anything else (a subclass, a decimal, a date) takes the longer way.
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        if path in LEAF_MAPS:
            return {str(name): canonical(item) for name, item in value.items()}
        return _canonical_branch(value, f"{path}." if path else "")
    if kind is list:
        return [item if type(item) in _AS_THEY_ARE else canonical(item, path) for item in value]
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return decimal_text(value, money=path in MONEY_FIELDS)
    if isinstance(value, float):  # never from our files; a live store may hold one
        return decimal_text(Decimal(repr(value)), money=path in MONEY_FIELDS)
    if isinstance(value, Mapping):
        if path in LEAF_MAPS:
            return {str(name): canonical(item) for name, item in value.items()}
        return {str(name): canonical(item, f"{path}.{name}" if path else str(name)) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(item, path) for item in value]
    if isinstance(value, dt.datetime):
        # A local date-time (TOML can write one) has no instant: it keeps its own text.
        return instant_text(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M") if not (value.second or value.microsecond or value.tzinfo) else value.isoformat()
    raise TypeError(f"{path or 'value'}: {type(value).__name__} has no canonical JSON form")


_AS_THEY_ARE = frozenset({str, int, bool, type(None)})


def _canonical_branch(branch: dict[Any, Any], prefix: str) -> dict[str, Any]:
    """`canonical` of a branch of the form: its plain values (two thirds of a customer's)
    taken as they are, without a call and a field path each."""
    spelt: dict[str, Any] = {}
    for name, item in branch.items():
        key = name if type(name) is str else str(name)
        spelt[key] = item if type(item) in _AS_THEY_ARE else canonical(item, prefix + key)
    return spelt


def canonical_document(customer: Customer) -> dict[str, Any]:
    """The customer as its canonical JSON document, in the form's order.

    Made once per customer and kept on it (a `Customer` is frozen, and `Customer.model_copy`
    drops what it kept): a plan and its apply ask for the same customer's form a dozen
    times. What it returns is shared: read it, never change it.
    """
    kept: dict[str, Any] | None = customer.__dict__.get(KEPT_CANONICAL)
    if kept is None:
        kept = customer.__dict__[KEPT_CANONICAL] = canonical(customer.model_dump(by_alias=True))
    return kept


def canonical_fields(customer: Customer) -> dict[str, Any]:
    """`flatten` of the canonical document, kept beside it. Shared: never change it."""
    kept: dict[str, Any] | None = customer.__dict__.get(KEPT_FIELDS)
    if kept is None:
        kept = customer.__dict__[KEPT_FIELDS] = flatten(canonical_document(customer))
    return kept


def canonical_bytes(customer: Customer) -> bytes:
    """The canonical document as bytes: keys sorted, no spaces, UTF-8."""
    return json_bytes(canonical_document(customer))


def json_bytes(document: Any) -> bytes:
    """Any canonical JSON value (no float: `canonical` spells numbers that are not integers
    as text) as the bytes its digest is taken of: keys sorted, no spaces, UTF-8.

    orjson writes the bytes `json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)` writes, ~10x sooner (a customer's document: ~5 µs against ~47 µs,
    and a small value, of which a plan's id hashes millions, without building an encoder
    each time); what orjson refuses (an integer past 64 bits, a key that is not text) the
    standard library writes, or refuses, as it always did."""
    try:
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_parts(document: Mapping[str, Any]) -> Iterator[bytes]:
    """`json_bytes` of DOCUMENT, in parts; a value of it that is an iterator is a list whose
    items are encoded as they come, so that a hash of a plan of 100,000 changes never holds
    the JSON of them all at once. The parts joined are the bytes `json_bytes` gives of
    DOCUMENT with each such iterator a list."""
    yield b"{"
    for index, key in enumerate(sorted(document)):
        value = document[key]
        yield (b"," if index else b"") + json_bytes(key) + b":"
        if not isinstance(value, Iterator):
            yield json_bytes(value)
            continue
        yield b"["
        for position, item in enumerate(value):
            yield (b"," if position else b"") + json_bytes(item)
        yield b"]"
    yield b"}"


def digest(customer: Customer) -> str:
    """A short hash of the canonical bytes: equal customers, equal digests. Kept on the
    customer beside its canonical document."""
    kept: str | None = customer.__dict__.get(KEPT_DIGEST)
    if kept is None:
        kept = customer.__dict__[KEPT_DIGEST] = digest_of(canonical_document(customer))
    return kept


DIGEST_LENGTH = 32  # hexadecimal digits of a digest


_DIGEST = re.compile(f"[0-9a-f]{{{DIGEST_LENGTH}}}")


def is_digest(value: Any) -> bool:
    """Whether VALUE is a digest as `digest` makes one (from a store, say)."""
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


def kept_digest(customer: Customer) -> str | None:
    """The digest kept on CUSTOMER (`digest` made it, or a store handed it over with the
    customer: `remember_digest`); None where neither happened yet. Never makes one."""
    kept: str | None = customer.__dict__.get(KEPT_DIGEST)
    return kept


def packed_document(document: dict[str, Any]) -> bytes:
    """A canonical document as a plan holds a create's and the document cache keeps it
    (`unpacked_document` reads it): marshal's bytes of its plain values, ~3 KB, where the
    customer made of it, its canonical forms and its field changes are ~20 KB."""
    return marshal.dumps(document)


def unpacked_document(blob: bytes) -> dict[str, Any]:
    """The canonical document `packed_document` made BLOB of; ValueError, EOFError or
    TypeError when BLOB is not such bytes (what a cache holds is checked by its reader)."""
    document = marshal.loads(blob)
    if not isinstance(document, dict):
        raise ValueError("not a packed document")
    return document


# What a reviewer sees of a customer at a glance, beside its create in a plan: its currency,
# channels, calls per second and status.
Glance = tuple[str, int, int, str]


def glance_of(document: Mapping[str, Any]) -> Glance:
    """The `Glance` of the customer whose canonical document is DOCUMENT."""
    return (document["currency"], document["channels"], document["flow_speed"], document["status"])


class Packed(NamedTuple):
    """A customer as a plan holds its create: its canonical document (`packed_document`),
    its digest, and its glance, so that neither showing the create nor writing it makes the
    customer, and showing it reads no document."""

    document: bytes
    digest: str
    glance: Glance

    @classmethod
    def of(cls, customer: Customer) -> Packed:
        document = canonical_document(customer)
        return cls(packed_document(document), digest(customer), glance_of(document))


def customer_of(document: dict[str, Any], known: str) -> Customer:
    """The customer whose canonical document is DOCUMENT and whose digest is KNOWN,
    validated, holding both (`remember_canonical`), so neither is made again."""
    customer = Customer.model_validate(document)
    remember_canonical(customer, document, known)
    return customer


def remember_canonical(customer: Customer, document: dict[str, Any], known: str) -> None:
    """Give CUSTOMER, validated from DOCUMENT (its canonical document, which it then holds
    as it is: nothing else may hold it) and of digest KNOWN, both, so neither is made again."""
    customer.__dict__.setdefault(KEPT_CANONICAL, document)
    remember_digest(customer, known)


def remember_digest(customer: Customer, known: str) -> None:
    """Give CUSTOMER the digest a store kept for its content (where the store knows it
    describes this content: written with it, not changed since), so `digest` need not
    encode the customer to know it."""
    customer.__dict__.setdefault(KEPT_DIGEST, known)


def digest_of(document: Mapping[str, Any]) -> str:
    """`digest` of the customer whose canonical document is DOCUMENT."""
    return hashlib.blake2b(json_bytes(document), digest_size=DIGEST_LENGTH // 2).hexdigest()


class Digests(Mapping[str, str]):
    """Digests by key, held as a kept fleet holds them: the keys in a list, their digests
    end to end in one string. A store compares a fleet's 100,000 as two strings
    (`in_order`); the map by key is made the first time a digest is asked for by key."""

    def __init__(self, keys: list[str], joined: str) -> None:
        if len(joined) != DIGEST_LENGTH * len(keys):
            raise ValueError(f"{len(joined)} characters are not the digests of {len(keys)} keys")
        self._keys, self._joined = keys, joined
        self._by_key: dict[str, str] | None = None

    @classmethod
    def parse(cls, keys: list[str], separated: str) -> Digests | None:
        """The digests of KEYS from SEPARATED (theirs, in order, joined by NUL); None when it
        does not hold one of DIGEST_LENGTH characters for each."""
        step = DIGEST_LENGTH + 1
        if len(separated) != max(step * len(keys) - 1, 0) or separated[DIGEST_LENGTH::step].strip("\0"):
            return None
        joined = separated.replace("\0", "")
        return cls(keys, joined) if len(joined) == DIGEST_LENGTH * len(keys) else None

    def __getitem__(self, key: str) -> str:
        return self._map()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._map()

    def _map(self) -> dict[str, str]:
        if self._by_key is None:
            joined, size = self._joined, DIGEST_LENGTH
            self._by_key = {key: joined[index * size:index * size + size] for index, key in enumerate(self._keys)}
        return self._by_key

    def replaced(self, digests: Mapping[str, str]) -> Digests:
        """These, with DIGESTS (of keys these hold) in place of theirs."""
        if not digests:
            return self
        position = {key: index for index, key in enumerate(self._keys) if key in digests}
        parts: list[str] = []
        start = 0
        for index in sorted(position.values()):
            parts += [self._joined[start:index * DIGEST_LENGTH], digests[self._keys[index]]]
            start = (index + 1) * DIGEST_LENGTH
        parts.append(self._joined[start:])
        return Digests(self._keys, "".join(parts))

    def separated(self) -> str:
        """These as `parse` reads them: in key order, joined by NUL."""
        joined, size = self._joined, DIGEST_LENGTH
        return "\0".join([joined[start:start + size] for start in range(0, len(joined), size)])

    def in_order(self) -> tuple[list[str], str]:
        """The keys as Python sorts them, and their digests end to end in that order."""
        keys = sorted(self._keys)
        if keys == self._keys:  # as a fleet of names that sort as their keys holds them
            return keys, self._joined
        by_key = self._map()
        return keys, "".join([by_key[key] for key in keys])


# --- the default customer -----------------------------------------------------------------


@cache
def default_fields() -> dict[str, Any]:
    """A new customer's fields (as `flatten` of its canonical document), in the form's order.

    Currency is required and has no default: the entry holds a placeholder, never a value
    to compare with.
    """
    return flatten(canonical_document(Customer(currency="USD")))


@cache
def field_positions() -> dict[str, int]:
    """Where each field stands in the form, by path: for sorting changes (`diff._in_form_order`,
    which puts paths the form does not know last)."""
    return {path: index for index, path in enumerate(default_fields())}
