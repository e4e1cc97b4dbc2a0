"""plans/: scheduled changes as dated overlay files, read and checked one file at a time.

The file name carries the instant the change takes effect, in UTC, then a slug:
`2026-12-01_raise-acme-limit.yaml` (midnight UTC) or `2026-12-24T1800Z_xmas-capacity.yaml`.
The content (YAML or TOML) says why, for how long, and what: JSON Merge Patches over
existing customers (`customers:`) and whole new customers (`create:`).

Checks that need more than one file (unknown customers, clashes at one instant, the
validity of the result) live in `schedule`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StrictBool, WithJsonSchema

from reconciler.documents.loader import Listing, Load, LoadedDocument, document_paths, load_document
from reconciler.documents.validation import validate
from reconciler.errors import InvalidInput, Problem
from reconciler.gc_pause import gc_paused
from reconciler.model.types import KEY_PATTERN, Frozen, Instant, Text, instant_text

_NAME_RE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})(?:T(?P<hour>\d{2})(?P<minute>\d{2})(?P<zone>Z?))?_(?P<slug>[a-z0-9][a-z0-9_-]*)"
)


CustomerKey = Annotated[str, Field(pattern=KEY_PATTERN)]
MergePatch = Annotated[
    dict[str, Any],
    WithJsonSchema({
        "type": "object",
        "description": "A JSON Merge Patch (RFC 7386) over the customer's document: "
        "mappings merge, other values replace, null resets a field to its default.",
    }),
]
NewCustomer = Annotated[
    dict[str, Any],
    # schemas.overlay_schema points this at customer.schema.json (pydantic cannot hold a $ref to another file).
    WithJsonSchema({"type": "object", "description": "The whole customer document."}),
]


class OverlayDocument(Frozen):
    """A scheduled change: plans/<instant>_<slug>.yaml or .toml; it takes effect at the instant of its name."""

    # Text, as every text of a file: a pull request's words reach terminals and review comments.
    reason: Text = Field(min_length=1, description="Why: shown in the timeline and in review.")
    until: Instant | None = Field(
        default=None, description="When the change reverts by itself (an instant with a zone); unset: never."
    )
    customers: dict[CustomerKey, MergePatch] = Field(
        default_factory=dict, description="Existing customers by key, each with a JSON Merge Patch of its document."
    )
    create: dict[CustomerKey, NewCustomer] = Field(
        default_factory=dict, description="New customers by key that come into existence at the instant."
    )
    allow_bulk: StrictBool = Field(
        default=False,
        description="The change may go over the safety thresholds of reconciler.toml at its instant (and when "
        "it ends): reviewed here, so the apply then goes through without --allow-bulk. Say why in reason.",
    )


@dataclass(frozen=True)
class Overlay:
    """One loaded overlay file. Sorts by (effective instant, file name): the order it applies in."""

    path: Path
    effective_at: dt.datetime
    until: dt.datetime | None
    reason: str
    customers: Mapping[str, Mapping[str, Any]]
    create: Mapping[str, Mapping[str, Any]]
    document: LoadedDocument
    allow_bulk: bool = False

    @property
    def order(self) -> tuple[dt.datetime, str]:
        return (self.effective_at, self.path.name)

    def customer_keys(self) -> set[str]:
        """Every customer the overlay touches."""
        return set(self.customers) | set(self.create)

    def active_at(self, at: dt.datetime) -> bool:
        return self.effective_at <= at and (self.until is None or at < self.until)


def overlay_paths(directory: Path, root: Path | None = None) -> Listing:
    """Overlay files in `directory`, sorted by name; dotfiles and other suffixes are not overlays.; every other entry a problem (see `document_paths`)."""
    return document_paths(directory, root)


def load_overlays(paths: Iterable[Path], *, load: Load = load_document) -> list[Overlay]:
    """Load and check overlay files, in the order they apply; raise InvalidInput listing every problem."""
    problems: list[Problem] = []
    overlays: list[Overlay] = []
    with gc_paused():
        for path in paths:
            overlay, found = load_overlay(path, load=load)
            problems.extend(found)
            if overlay is not None:
                overlays.append(overlay)
    if problems:
        raise InvalidInput(problems)
    return sorted(overlays, key=lambda overlay: overlay.order)


# Fields whose problems leave the rest of an overlay readable: it is still checked against
# the customers, so one run shows every problem of the file (a missing reason does not hide
# a `channels: -5` beside it).
_LENIENT = {"reason": "(no reason given)"}


def load_overlay(path: Path, *, load: Load = load_document) -> tuple[Overlay | None, list[Problem]]:
    """The overlay at PATH and its problems; the overlay is None when it cannot be read as one."""
    effective_at = effective_instant(path)
    if isinstance(effective_at, Problem):
        return None, [effective_at]
    try:
        document = load(path)
    except InvalidInput as exc:
        return None, list(exc.problems)
    problems: list[Problem] = []
    result = validate(OverlayDocument, document)
    if isinstance(result, list):
        problems = result
        if not all(problem.field in _LENIENT for problem in problems):
            return None, problems
        lenient = LoadedDocument(document.path, {**document.data, **_LENIENT}, document.source)
        result = validate(OverlayDocument, lenient)
        if isinstance(result, list):  # pragma: no cover - only lenient fields were wrong
            return None, problems
    if result.until is not None and result.until <= effective_at:
        return None, [
            *problems,
            document.problem(
                ("until",),
                f"{instant_text(result.until)} is not after the change takes effect "
                f"({instant_text(effective_at)}, from the file name); set a later instant or remove until",
            ),
        ]
    overlay = Overlay(
        path, effective_at, result.until, result.reason, result.customers, result.create, document, result.allow_bulk
    )
    return overlay, problems


def effective_instant(path: Path) -> dt.datetime | Problem:
    """The instant in an overlay's file name, or the problem with the name."""
    match = _NAME_RE.fullmatch(path.stem)
    example = "write it as 2026-12-01_slug.yaml (midnight UTC) or 2026-12-24T1800Z_slug.yaml"
    if match is None:
        return Problem(path, None, None, "", f"file name '{path.name}' does not start with the instant it takes effect; {example}")
    if match["hour"] is not None and not match["zone"]:
        return Problem(
            path, None, None, "",
            f"the instant in file name '{path.name}' has no zone; times are UTC, marked with Z: "
            f"{match['date']}T{match['hour']}{match['minute']}Z_{match['slug']}{path.suffix}",
        )
    try:
        day = dt.date.fromisoformat(match["date"])
        time = dt.time(int(match["hour"] or 0), int(match["minute"] or 0))
    except ValueError:
        return Problem(path, None, None, "", f"file name '{path.name}' does not start with a real date and time; {example}")
    return dt.datetime.combine(day, time, dt.UTC)


def change_instants(overlays: Iterable[Overlay]) -> list[dt.datetime]:
    """Every instant at which desired state may change: an overlay starts or ends."""
    instants = set()
    for overlay in overlays:
        instants.add(overlay.effective_at)
        if overlay.until is not None:
            instants.add(overlay.until)
    return sorted(instants)


def next_change(overlays: Iterable[Overlay], after: dt.datetime) -> dt.datetime | None:
    """The first instant strictly after `after` at which an overlay starts or ends."""
    return next((instant for instant in change_instants(overlays) if instant > after), None)
