"""Desired state: what the repository says every customer should be at time T."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from reconciler.config import CONFIG_NAME, Catalogs, SafetySection, Settings
from reconciler.desired.customers import CustomerFile, customer_paths, load_customers
from reconciler.desired.fleet import Fleet
from reconciler.desired.overlays import Overlay, load_overlays, overlay_paths
from reconciler.desired.schedule import Untouched, check_schedule, customers_at
from reconciler.documents.cache import DocumentCache, content_id
from reconciler.documents.loader import Load, load_document
from reconciler.errors import InvalidInput, Problem
from reconciler.model.customer import Customer
from reconciler.model.fields import Digests, Packed, digest

T = TypeVar("T")


def load_desired(
    root: Path, settings: Settings, at: dt.datetime, *, load: Load = load_document
) -> dict[str, Customer]:
    """Every customer's effective definition at `at`: the customer files plus the overlays of
    plans/ in effect then, validated; InvalidInput lists every problem."""
    return customers_at(load_base(root, settings, load=load), load_plans(root, settings, load=load), at)


def load_base(root: Path, settings: Settings, *, load: Load = load_document) -> dict[str, CustomerFile]:
    """The customer files themselves, without scheduled changes."""
    listing = customer_paths(customers_dir(root, settings), root)
    return _with(listing.problems, lambda: load_customers(listing.paths, settings.catalogs, load=load))


def customers_dir(root: Path, settings: Settings) -> Path:
    """The customers folder, which must exist: a mistyped one would read as "no customers"
    and plan to deactivate the whole fleet."""
    directory = inside(root, settings.customers_dir, "customers_dir")
    if not directory.is_dir():
        raise InvalidInput([
            Problem(
                directory, None, None, "",
                f"no such folder; create it, or set customers_dir in {CONFIG_NAME} to where the customer files are",
            )
        ])
    return directory


def load_plans(root: Path, settings: Settings, *, load: Load = load_document) -> list[Overlay]:
    """The scheduled changes of plans/, in the order they apply."""
    listing = overlay_paths(inside(root, settings.plans_dir, "plans_dir"), root)
    return _with(listing.problems, lambda: load_overlays(listing.paths, load=load))


def _with(problems: list[Problem], load: Callable[[], T]) -> T:
    """LOAD's result; InvalidInput with PROBLEMS (a folder's stray entries) and LOAD's own."""
    try:
        loaded = load()
    except InvalidInput as exc:
        raise InvalidInput([*problems, *exc.problems]) from None
    if problems:
        raise InvalidInput(problems)
    return loaded


def inside(root: Path, folder: str, option: str) -> Path:
    """ROOT/FOLDER, which reconciler.toml's OPTION names: it must stay inside the repository."""
    directory = root / folder
    if not directory.resolve().is_relative_to(root.resolve()):
        raise InvalidInput([
            Problem(root / CONFIG_NAME, None, None, option,
                    f"'{folder}' is outside the repository; name a folder inside it"),
        ])
    return directory


def load_schedule(
    root: Path, settings: Settings, *, load: Load = load_document
) -> tuple[dict[str, CustomerFile], list[Overlay]]:
    """Customer files and scheduled changes, checked together at every instant an overlay
    starts or ends; InvalidInput lists every problem."""
    base = load_base(root, settings, load=load)
    overlays = load_plans(root, settings, load=load)
    problems = check_schedule(base, overlays, catalogs=settings.catalogs)
    if problems:
        raise InvalidInput(problems)
    return base, overlays


def check_fleet_schedule(
    base: Mapping[str, CustomerFile],
    overlays: Sequence[Overlay],
    *,
    catalogs: Catalogs | None = None,
    removed: Mapping[str, str] | None = None,
    safety: SafetySection | None = None,
) -> list[Problem]:
    """`check_schedule`; over a `Fleet`, only the customers overlays touch are loaded and
    evaluated, the others stand in by their names and their number (no instant changes
    them). Where that finds a problem the whole fleet is checked, so every problem is the
    one `check_schedule` reports."""
    if not isinstance(base, Fleet):
        return check_schedule(base, overlays, catalogs=catalogs, removed=removed, safety=safety)
    fleet = base
    touched = {key for overlay in overlays for key in overlay.customer_keys()}
    base = fleet.load([key for key in fleet if key in touched])
    untouched = Untouched.of((key, name) for key, name in fleet.folded_names() if key not in touched)
    if not check_schedule(base, overlays, catalogs=catalogs, removed=removed, safety=safety, untouched=untouched):
        return []
    return check_schedule(fleet, overlays, catalogs=catalogs, removed=removed, safety=safety)


class Desired(Mapping[str, Customer]):
    """Every customer's definition at an instant, by key, in the order `customers_at` gives
    them, and the digest of each: those no overlay in effect changes are the fleet's own,
    and their `Customer` is loaded only when asked for. Those that overlays touch are
    evaluated when first asked for, unless EVALUATED gives them already."""

    def __init__(
        self,
        fleet: Fleet,
        evaluate: Callable[[], Mapping[str, Customer]],
        order: Sequence[str],
        digests: Mapping[str, str] | None = None,
        evaluated: Mapping[str, Customer] | None = None,
    ) -> None:
        self.fleet = fleet
        self._evaluate = evaluate
        self._evaluated = evaluated  # the customers overlays touch, at the instant
        self._touched = frozenset(order)
        self._keys = [*fleet, *(key for key in order if key not in fleet)]
        self._present = set(self._keys)
        self._digests: dict[str, str] = dict(digests or {})

    def _touched_customers(self) -> Mapping[str, Customer]:
        if self._evaluated is None:
            self._evaluated = self._evaluate()
        return self._evaluated

    def __getitem__(self, key: str) -> Customer:
        if key in self._touched:
            return self._touched_customers()[key]
        if key not in self.fleet:
            raise KeyError(key)
        return self.fleet[key].customer

    def __contains__(self, key: object) -> bool:
        return key in self._present

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def digest(self, key: str) -> str:
        if key not in self._touched:
            return self.fleet.digests[key]
        found = self._digests.get(key)
        if found is None:
            customer = self._touched_customers()[key]
            if key in self.fleet and customer is self.fleet[key].customer:
                found = self.fleet.digests[key]
            else:
                found = digest(customer)
            self._digests[key] = found
        return found

    def digests(self) -> Mapping[str, str]:
        """Every customer's digest, by key: the fleet's, with those of the customers
        overlays touch in their place (as one string again where the fleet holds them so)."""
        fleet = self.fleet.digests
        touched = {key: self.digest(key) for key in self._touched if key in self._present}
        if isinstance(fleet, Digests) and all(key in self.fleet.names for key in touched):
            return fleet.replaced(touched)
        return {**fleet, **touched}

    def touched_digests(self) -> dict[str, str]:
        return {key: self.digest(key) for key in self._keys if key in self._touched}

    def may_claim(self, key: str, keys: Collection[str], names: Collection[str]) -> bool:
        """Whether the customer of KEY names one of KEYS as an earlier key, or is called one
        of NAMES (casefolded), without loading it."""
        if key in self._touched:
            customer = self[key]
            name, renamed_from = customer.name or key, tuple(customer.renamed_from)
        else:
            summary = self.fleet.summaries[key]
            name, renamed_from = summary.name, summary.renamed_from
        return name.casefold() in names or any(old in keys for old in renamed_from)

    def subset(self, keys: Collection[str]) -> Mapping[str, Customer]:
        """The customers of KEYS, in key order (a plan's), loaded a slice at a time as they
        are asked for (`Slices`)."""
        return Slices(self, sorted(key for key in keys if key in self._present))

    def canonical(self, keys: Sequence[str]) -> dict[str, Packed]:
        """`Fleet.canonical` of those of KEYS no overlay in effect touches (their customers
        are their files')."""
        return self.fleet.canonical([key for key in keys if key not in self._touched and key in self.fleet])

    def load(self, keys: Sequence[str], *, of: int = 0) -> dict[str, Customer]:
        """The customers of KEYS, loaded together; OF: how many the caller loads in all."""
        # The files let go once their customers are had: a plan needs the customers alone.
        fleet_keys = [key for key in keys if key not in self._touched and key in self.fleet]
        files = self.fleet.load(fleet_keys, keep=False, of=of)
        return {key: files[key].customer if key in files else self[key] for key in keys}


class Slices(Mapping[str, Customer]):
    """The customers of KEYS of DESIRED, in that order: asked for one, it and the next of
    KEYS up to SLICE are loaded together, and held until a customer not among them is
    asked for. A plan asks for each customer once, in key order, and keeps of a create only
    its canonical document (`plan.CustomerChange.created`): a plan of 100,000 creates holds
    a slice of customers at a time, not 100,000 (2.4 GB)."""

    SLICE = 1000

    def __init__(self, desired: Desired, keys: list[str]) -> None:
        self._desired = desired
        self._keys = keys
        self._positions = {key: position for position, key in enumerate(keys)}
        self._slice: dict[str, Customer] = {}

    def __getitem__(self, key: str) -> Customer:
        found = self._slice.get(key)
        if found is None:
            position = self._positions[key]
            self._slice = {}  # let go of the slice before the next is loaded
            self._slice = self._desired.load(self._keys[position:position + self.SLICE], of=len(self._keys))
            found = self._slice[key]
        return found

    def canonical(self, keys: Sequence[str]) -> dict[str, Packed]:
        return self._desired.canonical(keys)

    def __contains__(self, key: object) -> bool:
        return key in self._positions

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def desired_at(
    fleet: Fleet, overlays: Sequence[Overlay], at: dt.datetime, cache: DocumentCache | None = None
) -> Desired:
    """`customers_at` over a fleet: only the customers that overlays name are loaded and
    evaluated; the others are as their files say. When that finds a problem, the whole fleet
    is evaluated, so the problem is reported as `customers_at` reports it.

    What the evaluation gives depends only on the files and on which overlays are in effect,
    so the digests it gave are kept in CACHE by those: while no overlay starts or ends and no
    file they touch changes, a plan evaluates nothing (a customer is still evaluated when
    its `Customer` is asked for). An overlay not in effect at AT changes no one then: the
    customers only such overlays name are as their files say, and are not loaded."""
    touched = {key for overlay in overlays if overlay.active_at(at) for key in overlay.customer_keys()}

    def evaluate() -> Mapping[str, Customer]:
        base = fleet.load([key for key in fleet if key in touched]) if touched else {}
        try:
            return customers_at(base, overlays, at)
        except InvalidInput:
            customers_at(fleet, overlays, at)
            raise

    slot = _evaluation_slot(fleet, overlays, at, touched) if cache is not None and touched else None
    kept = cache.get_meta(slot) if cache is not None and slot is not None else None
    if isinstance(kept, tuple) and len(kept) == 2 and isinstance(kept[0], list) and isinstance(kept[1], dict):
        return Desired(fleet, evaluate, kept[0], kept[1])
    evaluated = evaluate()
    desired = Desired(fleet, evaluate, list(evaluated), evaluated=evaluated)
    if cache is not None and slot is not None:
        cache.put_meta(slot, (list(evaluated), desired.touched_digests()))
    return desired


def _evaluation_slot(fleet: Fleet, overlays: Sequence[Overlay], at: dt.datetime, touched: set[str]) -> str:
    """Where an evaluation is kept: by the overlays, those in effect, and the content of the
    files they touch (or of the whole fleet, where one fingerprint names it, with the files
    they touch that were edited since: no other file's id need be looked up)."""
    if fleet.fingerprint:
        content: Any = [fleet.fingerprint, sorted((key, fleet.edited[key]) for key in touched if key in fleet.edited)]
    else:
        content = sorted((key, fleet.ids.get(key)) for key in touched)
    said = json.dumps([
        [(overlay.path.name, content_id(overlay.path.suffix, overlay.document.source)) for overlay in overlays],
        [overlay.path.name for overlay in overlays if overlay.active_at(at)],
        content,
    ])
    return "evaluation:" + hashlib.sha256(said.encode()).hexdigest()[:32]
