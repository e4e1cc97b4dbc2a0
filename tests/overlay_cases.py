"""Random base documents and overlay sets, for the property tests of schedule and compact."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from reconciler.desired.overlays import Overlay
from reconciler.documents.loader import LoadedDocument

KEYS = ["acme", "globex", "kiwi"]
FIELDS = ["channels", "notes", "config", "tags"]
INSTANTS = [dt.datetime(2026, 12, day, hour, tzinfo=dt.UTC) for day in (1, 2, 3, 4) for hour in (0, 12)]

leaf = st.one_of(st.none(), st.integers(0, 9), st.sampled_from(["a", "b"]), st.lists(st.integers(0, 3), max_size=2))
patch_values = st.recursive(leaf, lambda inner: st.dictionaries(st.sampled_from(FIELDS), inner, max_size=3), max_leaves=6)
patches = st.dictionaries(st.sampled_from(FIELDS), patch_values, max_size=3)
documents = st.dictionaries(st.sampled_from(FIELDS), patch_values.filter(lambda value: value is not None), max_size=3)


def fake_overlay(
    name: str, effective_at: dt.datetime, until: dt.datetime | None,
    customers: dict[str, Any], create: dict[str, Any],
) -> Overlay:
    path = Path("plans") / name
    document = LoadedDocument(path, {"customers": customers, "create": create})
    return Overlay(path, effective_at, until, "reason", customers, create, document)


@st.composite
def overlay_sets(draw: st.DrawFn) -> tuple[dict[str, dict[str, Any]], list[Overlay]]:
    """Base documents by key, and up to seven overlays over them (several may share an instant)."""
    base = draw(st.dictionaries(st.sampled_from(KEYS), documents, min_size=1))
    overlays = []
    for index in range(draw(st.integers(0, 7))):
        effective_at = draw(st.sampled_from(INSTANTS))
        later = [instant for instant in INSTANTS if instant > effective_at]
        until = draw(st.one_of(st.none(), st.sampled_from(later))) if later else None
        customers = draw(st.dictionaries(st.sampled_from(sorted(base)), patches, max_size=2))
        create = {f"new-{index}": draw(documents)} if draw(st.booleans()) else {}
        # The letter varies the file-name order among overlays at one instant.
        name = f"{effective_at:%Y-%m-%dT%H%MZ}_{draw(st.sampled_from('xyz'))}{index}.yaml"
        overlays.append(fake_overlay(name, effective_at, until, customers, create))
    return base, overlays


# A small repository of two customers and four scheduled changes (timeline, next-due).
SCHEDULE_ACME = """\
channels: 300
flow_speed: 30
debit_limit: 25000.00
currency: USD
"""

SCHEDULE_FILES = {
    "customers.d/acme.yaml": SCHEDULE_ACME,
    "customers.d/globex.toml": 'currency = "EUR"\nchannels = 100\n',
    "plans/2026-12-01_raise-limit.yaml": "reason: Credit review passed\ncustomers:\n  acme:\n    debit_limit: 30000.00\n",
    "plans/2026-12-24T1800Z_xmas.yaml": (
        "reason: Christmas peak\nuntil: 2026-12-27T06:00:00Z\n"
        "customers:\n  acme:\n    channels: 400\n  globex:\n    channels: 150\n"
    ),
    "plans/2026-12-26_more-xmas.yaml": "reason: Boxing day\ncustomers:\n  acme:\n    channels: 450\n",
    "plans/2027-01-04_newco.yaml": "reason: Newco signs\ncreate:\n  newco:\n    currency: GBP\n    channels: 10\n",
}
