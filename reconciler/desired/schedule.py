"""Desired state over time: the base customer files plus the overlays in effect at an instant.

The state at T is the base documents with every overlay in effect at T (effective <= T <
until) applied in order of (effective instant, file name): `create:` adds a customer,
`customers:` merge-patches one. Everything here is a pure function of the loaded files
and the instant it is given.

Every field an overlay sets is remembered with the overlay that set it, so a result the
model refuses is reported at the line of the overlay that caused it, and the base file
only when no overlay had a hand in it.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reconciler.config import Catalogs, SafetySection
from reconciler.desired.customers import CustomerFile, catalog_violations
from reconciler.desired.overlays import Overlay, change_instants
from reconciler.documents.loader import LoadedDocument
from reconciler.documents.merge_patch import FieldLoc, merge_patch, patched_fields
from reconciler.documents.validation import problems_from
from reconciler.errors import InvalidInput, Problem
from reconciler.model.customer import Customer
from reconciler.model.fields import field_path
from reconciler.model.messages import closest, show
from reconciler.model.types import instant_text

Loc = tuple[str | int, ...]


def in_effect(overlays: Iterable[Overlay], at: dt.datetime) -> list[Overlay]:
    """The overlays in effect at `at`, in the order they apply."""
    return sorted((overlay for overlay in overlays if overlay.active_at(at)), key=lambda overlay: overlay.order)


def documents_at(
    base: Mapping[str, Mapping[str, Any]], overlays: Iterable[Overlay], at: dt.datetime
) -> dict[str, dict[str, Any]]:
    """Every customer's raw document at `at`. Patches for absent customers are skipped (see `check_schedule`)."""
    return _replay(base, in_effect(overlays, at), at, {}).documents


def customers_at(
    base: Mapping[str, CustomerFile], overlays: Iterable[Overlay], at: dt.datetime
) -> dict[str, Customer]:
    """Every customer's validated definition at `at`; InvalidInput names the overlay lines at fault."""
    return state_at(base, overlays, at).customers


def state_at(base: Mapping[str, CustomerFile], overlays: Iterable[Overlay], at: dt.datetime) -> Evaluation:
    """`customers_at`, with the record of which overlay set each field."""
    overlays = list(overlays)
    problems = clashes(overlays)
    evaluation = evaluate(base, in_effect(overlays, at), at)
    problems.extend(evaluation.problems)
    if problems:
        raise InvalidInput(_first_per_place(problems))
    return evaluation


def check_schedule(
    base: Mapping[str, CustomerFile],
    overlays: Sequence[Overlay],
    instants: Iterable[dt.datetime] | None = None,
    *,
    catalogs: Catalogs | None = None,
    removed: Mapping[str, str] | None = None,
    safety: SafetySection | None = None,
    untouched: Untouched | None = None,
) -> list[Problem]:
    """Validation of the future: the state at every instant an overlay starts or ends, with
    the rules that span customers (unique names, catalogs) checked on what overlays set, and
    clashes. REMOVED (key -> commit) names customers whose file left the repository. With
    SAFETY, the change each instant makes is held to the safety thresholds, as the apply at
    that instant will hold it, unless an overlay starting or ending then says allow_bulk.

    BASE may hold only the customers overlays touch, with UNTOUCHED standing for the rest
    (the same at every instant): what they are called, and how many there are."""
    problems = clashes(overlays)
    before: Evaluation | None = None
    bulk: dict[Path, tuple[Overlay, list[str]]] = {}  # overlay -> what it does over the thresholds
    for instant in change_instants(overlays) if instants is None else instants:
        if safety is not None and before is None:
            before = evaluate(base, in_effect(overlays, instant - _MOMENT), instant - _MOMENT, removed=removed)
        evaluation = evaluate(base, in_effect(overlays, instant), instant, removed=removed)
        problems.extend(evaluation.problems)
        problems.extend(_names_and_catalogs(evaluation, catalogs, instant, untouched))
        if safety is not None and before is not None:
            for overlay, said in _bulk_at(before, evaluation, overlays, instant, safety, untouched):
                bulk.setdefault(overlay.path, (overlay, []))[1].append(said)
            before = evaluation
    problems.extend(
        _overlay_problem(
            overlay, ("customers",) if overlay.customers else ("create",), True,
            "; ".join(said) + "; the apply then would stop and wait for --allow-bulk: split the change, or say "
            "allow_bulk: true in this file if so large a change at that instant is meant (its reason says why)",
        )
        for overlay, said in bulk.values()
    )
    return _first_per_place(problems)


# Just before an instant: the state a scheduled change at that instant starts from.
_MOMENT = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Untouched:
    """The customers no overlay touches, where `check_schedule` is not given them: how many
    there are, and who holds each name (casefolded). An instant changes none of them."""

    count: int
    holders: Mapping[str, Sequence[str]]  # casefolded name -> the keys holding it

    @classmethod
    def of(cls, names: Iterable[tuple[str, str]]) -> Untouched:
        """From (key, name) of each untouched customer."""
        holders: dict[str, list[str]] = {}
        count = 0
        for key, name in names:
            holders.setdefault(name.casefold(), []).append(key)
            count += 1
        return cls(count, holders)


def _bulk_at(
    before: Evaluation,
    after: Evaluation,
    overlays: Sequence[Overlay],
    instant: dt.datetime,
    safety: SafetySection,
    untouched: Untouched | None,
) -> list[tuple[Overlay, str]]:
    """The thresholds the change at INSTANT goes over, said for each overlay starting or ending
    then, unless one of them says allow_bulk."""
    updates = sum(1 for key, customer in after.customers.items() if key in before.customers
                  and before.customers[key] != customer)
    removals = sum(1 for key in before.customers if key not in after.customers)
    fleet = len(before.customers) + (untouched.count if untouched is not None else 0)
    violations = safety.violations(updates, removals, fleet)
    if not violations:
        return []
    moving = [overlay for overlay in overlays if instant in (overlay.effective_at, overlay.until)]
    if any(overlay.allow_bulk for overlay in moving):
        return []
    edge = {True: "starts", False: "ends"}
    return [
        (overlay, f"at {instant_text(instant)}, where this change {edge[overlay.effective_at == instant]}: "
                  f"{'; '.join(violations)}")
        for overlay in moving
    ]


def _names_and_catalogs(
    evaluation: Evaluation, catalogs: Catalogs | None, at: dt.datetime, untouched: Untouched | None
) -> list[Problem]:
    """Unique names and catalogs, for the fields overlays set (the base files are checked with
    their own positions in `customers`)."""
    problems: list[Problem] = []
    by_name: dict[str, list[str]] = {}
    for key in sorted(evaluation.customers):
        by_name.setdefault((evaluation.customers[key].name or key).casefold(), []).append(key)
    for key, sources in evaluation.sources.items():
        customer = evaluation.customers.get(key)
        if customer is None:
            continue
        name = customer.name or key
        holders = by_name[name.casefold()]
        if untouched is not None and name.casefold() in untouched.holders:
            holders = sorted([*holders, *untouched.holders[name.casefold()]])
        other = next((holder for holder in holders if holder != key), None)
        source = field_source(sources, "name")
        if other is not None and source is not None:
            problems.append(_at_source(
                source, key, ("name",),
                f"name '{name}' is already used by customer '{other}' at {instant_text(at)}; names must be "
                "unique, ignoring case",
            ))
        for loc, _, message in catalog_violations(customer, catalogs) if catalogs is not None else []:
            source = field_source(sources, ".".join(loc))
            if source is not None:
                problems.append(_at_source(source, key, loc, f"{message} (at {instant_text(at)})"))
    return problems


def _at_source(source: FieldSource, key: str, loc: Loc, message: str) -> Problem:
    document, base = source.locate(key, loc)
    return document.problem(base, message)


@dataclass(frozen=True)
class Evaluation:
    customers: dict[str, Customer]
    problems: list[Problem]
    # Customer key -> the overlay behind each field it set (`()`: it created the customer).
    sources: Mapping[str, Mapping[FieldLoc, FieldSource]]


def evaluate(
    base: Mapping[str, CustomerFile],
    overlays: Sequence[Overlay],
    at: dt.datetime,
    *,
    removed: Mapping[str, str] | None = None,
) -> Evaluation:
    """Apply `overlays` (already chosen and ordered) to the base files and validate what they touched."""
    documents = {key: customer_file.document.data for key, customer_file in base.items()}
    replay = _replay(documents, overlays, at, removed or {})
    customers: dict[str, Customer] = {}
    problems = list(replay.problems)
    for key, document in replay.documents.items():
        sources = replay.sources.get(key)
        if not sources:
            customers[key] = base[key].customer
            continue
        try:
            customer = Customer.model_validate(document)
        except ValidationError as exc:
            problems.extend(_attribute(exc, key, sources, base.get(key), at))
            continue
        customers[key] = customer if customer.name is not None else customer.model_copy(update={"name": key})
    return Evaluation(customers, problems, replay.sources)


def field_source(sources: Mapping[FieldLoc, FieldSource], path: str) -> FieldSource | None:
    """What set the value of field PATH (a field path) in a replay's record: the latest
    overlay in effect that set it, or created the customer; None when no overlay did."""
    setters = [source for loc, source in sources.items() if not loc or related_fields(path, field_path(loc))]
    return max(setters, key=lambda source: source.overlay.order) if setters else None


def overlay_setting(sources: Mapping[FieldLoc, FieldSource], path: str) -> Overlay | None:
    """The overlay of `field_source`."""
    source = field_source(sources, path)
    return source.overlay if source is not None else None


def related_fields(field: str, changed: str) -> bool:
    """A change at field path CHANGED sets FIELD when one lies inside the other."""
    return field == changed or field.startswith(changed + ".") or changed.startswith(field + ".")


# --- replaying overlays -------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSource:
    """The overlay that set a field, and where the customer's document sits in its file.

    The replay keeps one per field an overlay set, so a refused result is reported at the
    overlay's line and `blame` names the overlay behind a value without working it out again.
    """

    overlay: Overlay
    section: str  # "customers" or "create"

    def locate(self, key: str, loc: Loc) -> tuple[LoadedDocument, Loc]:
        return self.overlay.document, (self.section, key, *loc)


@dataclass
class _Replay:
    documents: dict[str, dict[str, Any]]
    sources: dict[str, dict[FieldLoc, FieldSource]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _replay(
    base: Mapping[str, Mapping[str, Any]], overlays: Iterable[Overlay], at: dt.datetime, removed: Mapping[str, str]
) -> _Replay:
    replay = _Replay({key: dict(document) for key, document in base.items()})
    documents = replay.documents
    for overlay in overlays:
        for key, document in overlay.create.items():
            if key in documents:
                replay.problems.append(_overlay_problem(
                    overlay, ("create", key), True,
                    f"customer '{key}' already exists at {instant_text(at)}; change it under customers: "
                    "instead, or create it under a new key",
                ))
                continue
            documents[key] = copy.deepcopy(dict(document))
            replay.sources[key] = {(): FieldSource(overlay, "create")}
        for key, patch in overlay.customers.items():
            if key not in documents:
                replay.problems.append(_unknown_customer(overlay, key, documents, at, removed.get(key)))
                continue
            before, after = documents[key], merge_patch(documents[key], patch)
            if after.get("currency") != before.get("currency"):
                replay.problems.append(_overlay_problem(
                    overlay, ("customers", key, "currency"), False,
                    f"changes the currency of '{key}' from {show(before.get('currency'))} to "
                    f"{show(after.get('currency'))}; the platform fixes currency at creation: "
                    "create a new customer instead",
                ))
            documents[key] = after
            sources = replay.sources.setdefault(key, {})
            for loc, _ in patched_fields(patch):
                for older in [older for older in sources if older[: len(loc)] == loc]:
                    del sources[older]
                sources[loc] = FieldSource(overlay, "customers")
    return replay


def _unknown_customer(
    overlay: Overlay, key: str, documents: Mapping[str, Any], at: dt.datetime, removed_in: str | None
) -> Problem:
    if removed_in is not None:
        return _overlay_problem(
            overlay, ("customers", key), True,
            f"customer '{key}' was removed (its file left the repository in {removed_in[:7]}), but this "
            f"overlay still changes it at {instant_text(at)}; remove the overlay, or fold it away with "
            "reconciler compact",
        )
    close = closest(key, documents)
    hint = f"did you mean '{close}'?" if close else "to add a customer, put it under create:"
    return _overlay_problem(
        overlay, ("customers", key), True,
        f"unknown customer '{key}' at {instant_text(at)}: no customer file has this key and no overlay "
        f"in effect creates it; {hint}",
    )


def _overlay_problem(overlay: Overlay, loc: Loc, key: bool, message: str) -> Problem:
    return overlay.document.problem(loc, message, key=key)


# --- attributing a refused result ---------------------------------------------------------


def _attribute(
    exc: ValidationError,
    key: str,
    sources: Mapping[FieldLoc, FieldSource],
    base_file: CustomerFile | None,
    at: dt.datetime,
) -> list[Problem]:
    # problems_from gives one problem per error, in order: ask it once per file involved.
    by_place: dict[tuple[int, Loc], list[Problem]] = {}
    problems: list[Problem] = []
    for index, error in enumerate(exc.errors()):
        loc: Loc = tuple(part for part in error["loc"] if part != "[key]")
        source = _source_of(loc, sources)
        if source is not None:
            document, base = source.locate(key, ())
        elif base_file is not None:
            document, base = base_file.document, ()
        else:  # pragma: no cover - a created customer always has a source
            raise AssertionError(f"no source for {key}")
        place = (id(document), base)
        if place not in by_place:
            by_place[place] = problems_from(exc, document, Customer, base=base)
        problem = by_place[place][index]
        problems.append(dataclasses.replace(problem, message=f"{problem.message} (at {instant_text(at)})"))
    return problems


def _source_of(loc: Loc, sources: Mapping[FieldLoc, FieldSource]) -> FieldSource | None:
    """The overlay most responsible for an error at `loc`: the one that set the field or the
    closest to it, the latest on a tie; None when no overlay came near it (the base file's fault)."""
    best: tuple[int, bool, tuple[dt.datetime, str]] | None = None
    chosen: FieldSource | None = None
    for path, source in sources.items():
        common = _common_prefix(path, loc)
        rank = (common, common == len(path), source.overlay.order)
        if best is None or rank > best:
            best, chosen = rank, source
    if best is None or (best[0] == 0 and not best[1]):
        return None
    return chosen


def _common_prefix(left: Loc, right: Loc) -> int:
    count = 0
    for one, other in zip(left, right, strict=False):
        if one != other:
            break
        count += 1
    return count


# --- overlays that clash ------------------------------------------------------------------


def clashes(overlays: Iterable[Overlay]) -> list[Problem]:
    """Two overlays at the same instant that set one field of one customer differently."""
    problems: list[Problem] = []
    by_instant: dict[dt.datetime, list[Overlay]] = {}
    for overlay in sorted(overlays, key=lambda overlay: overlay.order):
        by_instant.setdefault(overlay.effective_at, []).append(overlay)
    for group in by_instant.values():
        for index, later in enumerate(group):
            for earlier in group[:index]:
                problems.extend(_clash(earlier, later))
    return problems


def _clash(earlier: Overlay, later: Overlay) -> list[Problem]:
    problems: list[Problem] = []
    for key in sorted(set(earlier.customers) & set(later.customers)):
        theirs = list(patched_fields(earlier.customers[key]))
        for loc, value in patched_fields(later.customers[key]):
            for other_loc, other_value in theirs:
                shorter = min(len(loc), len(other_loc))
                if loc[:shorter] != other_loc[:shorter] or (loc == other_loc and value == other_value):
                    continue
                where = ("customers", key, *other_loc)
                mark = earlier.document.locate(where)
                line = f":{mark.line}" if mark else ""
                problems.append(_overlay_problem(
                    later, ("customers", key, *loc), False,
                    f"clashes with {earlier.path}{line}, which sets {field_path(other_loc)} to "
                    f"{show(other_value)} at the same instant ({instant_text(later.effective_at)}): "
                    "agree on one value, or merge the two files",
                ))
                break
    return problems


def _first_per_place(problems: Iterable[Problem]) -> list[Problem]:
    """One problem per file, line, column and field: the first instant that shows it."""
    seen: dict[tuple[str, int | None, int | None, str], Problem] = {}
    for problem in problems:
        seen.setdefault((str(problem.path), problem.line, problem.column, problem.field), problem)
    return list(seen.values())
