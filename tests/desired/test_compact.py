"""`reconciler compact`: fold overlays into the customer files, keeping every comment."""

from __future__ import annotations

import copy
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st
from invoke import invoke, run_cli, write_files
from overlay_cases import INSTANTS, overlay_sets

from reconciler.config import Settings
from reconciler.desired.compact import fold_documents, plan_compaction
from reconciler.desired.overlays import Overlay
from reconciler.desired.schedule import documents_at
from reconciler.desired.state import load_desired

UTC = dt.UTC

ACME = """\
# yaml-language-server: $schema=../schemas/customer.schema.json
# Acme: post-paid wholesale.
name: Acme Telecom
channels: 300     # agreed in the MSA
debit_limit: 25000.00
currency: USD

config:
  tags: [wholesale, us-east]  # keep in sync with billing
  invoice:
    schedule: monthly
    due_days: 30

notes: |
  Net-30 terms.
"""

GLOBEX = """\
# Signed up last week.
name = "Globex"
channels = 100  # trial capacity
currency = "EUR"

[config]
tags = ["wholesale", "dach"]

[config.invoice]
due_days = 14
"""

FILES = {
    "customers.d/acme.yaml": ACME,
    "customers.d/globex.toml": GLOBEX,
    "plans/2026-11-01_raise-limit.yaml": (
        "reason: Credit review passed\ncustomers:\n  acme:\n    debit_limit: 30000.50\n"
        "    config:\n      tags: [wholesale, us-east, tier-1]\n      invoice:\n        due_days: null\n"
    ),
    "plans/2026-11-05_globex-live.toml": (
        'reason = "KYC approved"\n\n[customers.globex]\nchannels = 120\nflow_speed = 12.5\n\n'
        '[customers.globex.config.invoice]\nschedule = "monthly"\n'
    ),
    "plans/2026-11-10T0900Z_newco.yaml": (
        "reason: Newco signs\ncreate:\n  newco:\n    currency: GBP\n    channels: 10\n"
        "    config:\n      tags: [retail]\n"
    ),
    "plans/2026-11-20_black-friday.yaml": (
        "reason: Black Friday\nuntil: 2026-12-01T00:00:00Z\ncustomers:\n  globex:\n    channels: 200\n"
    ),
    "plans/2026-11-25_globex-more.yaml": "reason: more\ncustomers:\n  globex:\n    channels: 130\n",
    "plans/2026-12-01_later.yaml": "reason: later\ncustomers:\n  acme:\n    channels: 350\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_files(tmp_path, FILES)


def texts(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*")) if path.is_file()
    }


def test_compact_dry_run_shows_and_writes_nothing(project: Path) -> None:
    before = texts(project)
    code, out = run_cli(project, "compact", "--before", "2026-11-27")
    assert code == 0
    assert out == """\
keep plans/2026-11-20_black-friday.yaml: it is in effect until 2026-12-01T00:00:00Z
keep plans/2026-11-25_globex-more.yaml: 2026-11-20_black-friday.yaml changes the same customer before it and stays
rewrite customers.d/acme.yaml: debit_limit, config.tags, config.invoice.due_days (from 2026-11-01_raise-limit.yaml)
rewrite customers.d/globex.toml: channels, flow_speed, config.invoice.schedule (from 2026-11-05_globex-live.toml)
create customers.d/newco.yaml: new customer (from 2026-11-10T0900Z_newco.yaml)
remove plans/2026-11-01_raise-limit.yaml
remove plans/2026-11-05_globex-live.toml
remove plans/2026-11-10T0900Z_newco.yaml
3 overlays to fold; nothing written (run with --write to do it).
"""
    assert texts(project) == before


def test_compact_write_keeps_comments_order_and_layout(project: Path) -> None:
    code, out = run_cli(project, "compact", "--before", "2026-11-27", "--write")
    assert code == 0
    assert out.splitlines()[-1] == "Folded 3 overlays."
    files = texts(project)
    assert sorted(name for name in files if name.startswith("plans/")) == [
        "plans/2026-11-20_black-friday.yaml", "plans/2026-11-25_globex-more.yaml", "plans/2026-12-01_later.yaml",
    ]
    assert files["customers.d/acme.yaml"] == """\
# yaml-language-server: $schema=../schemas/customer.schema.json
# Acme: post-paid wholesale.
name: Acme Telecom
channels: 300     # agreed in the MSA
debit_limit: 30000.50
currency: USD

config:
  tags: [wholesale, us-east, tier-1] # keep in sync with billing
  invoice:
    schedule: monthly

notes: |
  Net-30 terms.
"""
    assert files["customers.d/globex.toml"] == """\
# Signed up last week.
name = "Globex"
channels = 120  # trial capacity
currency = "EUR"
flow_speed = 12.5

[config]
tags = ["wholesale", "dach"]

[config.invoice]
due_days = 14
schedule = "monthly"
"""
    assert files["customers.d/newco.yaml"] == """\
# Newco signs
# Created by 2026-11-10T0900Z_newco.yaml, folded in by reconciler compact.
currency: GBP
channels: 10
config:
  tags: [retail]
"""
    code, out = run_cli(project, "validate")  # valid; the files leave flow_speed unset, which warns
    assert (code, out.splitlines()[-2:]) == (
        0, ["3 customers valid.", "3 scheduled changes valid (every customer checked at 3 instants)."]
    )


def test_compact_never_changes_the_state_from_its_date_on(project: Path) -> None:
    instants = [dt.datetime(2026, 11, 27, tzinfo=UTC), dt.datetime(2026, 11, 30, tzinfo=UTC),
                dt.datetime(2026, 12, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC)]
    before = [load_desired(project, Settings(), instant) for instant in instants]
    run_cli(project, "compact", "--before", "2026-11-27", "--write")
    assert [load_desired(project, Settings(), instant) for instant in instants] == before


def test_compact_the_examples(tmp_path: Path) -> None:
    for name in ("customers.d", "plans", "schemas"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copy(REPO / "reconciler.toml", tmp_path)
    northwind = (REPO / "customers.d/northwind-voip.toml").read_text(encoding="utf-8")
    code, out = run_cli(tmp_path, "compact", "--before", "2026-11-27", "--write")
    assert (code, out) == (0, """\
rewrote customers.d/northwind-voip.toml: channels, flow_speed (from 2026-11-01_northwind-more-channels.yaml)
removed plans/2026-11-01_northwind-more-channels.yaml
Folded 1 overlay.
""")
    expected = northwind.replace("channels = 20\n", "channels = 30\n").replace("flow_speed = 2\n", "flow_speed = 3\n")
    assert (tmp_path / "customers.d/northwind-voip.toml").read_text(encoding="utf-8") == expected
    assert run_cli(tmp_path, "compact", "--before", "2026-11-27") == (0, "Nothing to fold before 2026-11-27T00:00:00Z.\n")


# --- property: compact never changes the state at any T from its date on -------------------

@settings(max_examples=300, deadline=None)
@given(overlay_sets(), st.sampled_from(INSTANTS), st.sampled_from(INSTANTS),
       st.sampled_from([dt.timedelta(0), dt.timedelta(hours=1)]))
def test_compact_keeps_the_state_at_every_instant_from_its_date_on(
    case: tuple[dict[str, dict[str, Any]], list[Overlay]],
    before: dt.datetime, instant: dt.datetime, shift: dt.timedelta,
) -> None:
    base, overlays = case
    frozen = copy.deepcopy(base)
    compaction = plan_compaction(overlays, before)
    compacted = fold_documents(base, compaction.folded)
    remaining = [overlay for overlay in overlays if overlay not in compaction.folded]
    at = max(instant, before) + shift
    assert documents_at(compacted, remaining, at) == documents_at(base, overlays, at)
    assert base == frozen
    assert all(overlay.until is None and overlay.effective_at < before for overlay in compaction.folded)


def test_compact_refuses_a_date_in_the_future(project: Path) -> None:
    outcome = invoke(project, "compact", "--before", "2026-12-02")
    assert (outcome.code, outcome.err) == (1, (
        "error: --before 2026-12-02T00:00:00Z is in the future: compact folds only changes that have taken effect; "
        "give an instant up to now (2026-11-27T10:00:00Z)\n"
    ))
