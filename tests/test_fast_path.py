"""The fast path and the full path of a plan agree, step after step over one repository.

The fast path (`reconcile.make_plan` with a document cache and a store that keeps digests)
reads from git which files changed, loads from the cache what it knew of the rest, and reads
from the store only the rows whose digest differs. The full path is the plan as it was made
before any of that: every file loaded and validated, every live record read and decoded,
`compute_plan` over all of them. Each step changes the repository or the live store the way
people do (edits, renames, overlays, catalogs, a hand edit on the platform) and the two plans
must be equal, as must their errors.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, REPO
from git_repos import GitRepo
from invoke import invoke
from sqlalchemy import create_engine, text

from reconciler import reconcile
from reconciler.apply import LockPolicy, apply_plan
from reconciler.config import load_settings
from reconciler.desired import fleet as fleet_module
from reconciler.desired.schedule import customers_at
from reconciler.desired.state import load_base, load_plans
from reconciler.documents import gitindex as gitindex_module
from reconciler.documents.cache import DocumentCache
from reconciler.errors import InvalidInput
from reconciler.history import git as git_module
from reconciler.history.git import current_revision
from reconciler.model.fields import digest
from reconciler.plan.compute import PlanContext, compute_plan
from reconciler.plan.plan import Plan
from reconciler.providers import create_provider
from reconciler.providers.base import AuditContext, PendingRead, Provider

AT = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
IN_XMAS = dt.datetime(2026, 12, 25, tzinfo=dt.UTC)
AUDIT = AuditContext(actor="tester", commit=None, plan_id=None)


def _fleet(root: Path, count: int) -> GitRepo:
    """COUNT customers made from the examples, the example overlays, and reconciler.toml."""
    repo = GitRepo(root)
    templates = sorted(EXAMPLES.iterdir())
    for number in range(count):
        template = templates[number % len(templates)]
        body = template.read_text(encoding="utf-8")
        body = "\n".join(line for line in body.splitlines() if not line.startswith(("name", "renamed_from")))
        name_line = f'name = "Customer {number}"' if template.suffix == ".toml" else f"name: Customer {number}"
        repo.write(f"customers.d/c{number:03d}-{template.stem}{template.suffix}", f"{name_line}\n{body}\n")
    shutil.copytree(REPO / "plans", root / "plans")
    for overlay in (root / "plans").iterdir():  # the examples' keys, as this fleet spells them
        body = overlay.read_text(encoding="utf-8")
        for number, template in enumerate(templates):
            body = body.replace(template.stem, f"c{number:03d}-{template.stem}")
        overlay.write_text(body, encoding="utf-8")
    config = (REPO / "reconciler.toml").read_text(encoding="utf-8")
    config = config.replace("max_updates = 50", "max_updates = 1000").replace("max_deactivations = 5", "max_deactivations = 1000")
    config = config.replace("max_update_share = 0.25", "max_update_share = 1.0").replace("max_deactivation_share = 0.10", "max_deactivation_share = 1.0")
    repo.write("reconciler.toml", config)
    repo.write(".gitignore", ".reconciler/\n")
    repo.commit("A fleet", date="2026-11-20T00:00:00Z")
    return repo


def _full_plan(root: Path, provider: Provider, at: dt.datetime) -> Plan:
    """The plan as it was made before the fast path: everything loaded, everything read."""
    settings = load_settings(root)
    overlays = load_plans(root, settings)
    desired = customers_at(load_base(root, settings), overlays, at)
    live = provider.read()
    revision = current_revision(root, [settings.customers_dir, settings.plans_dir, "reconciler.toml"])
    context = PlanContext(
        at=at, commit=revision.commit, dirty=revision.dirty, provider=provider.describe(),
        owned_fields=tuple(settings.owned_fields), safety=settings.safety,
        removed_in=reconcile._removed_in(root, settings, desired, live),
        ended=reconcile._ended(root, overlays, desired, at),
        penalties_from_git=reconcile.penalties_from_git(provider, live),
    )
    return compute_plan(desired, live, context)


class Fixture:
    def __init__(self, root: Path, cache_folder: Path) -> None:
        self.root = root
        self.cache_file = cache_folder / "documents.sqlite"
        self.provider = create_provider("sqlite", {"path": ".reconciler/live.sqlite"}, environ={}, root=root)

    def fast(self, at: dt.datetime = AT, **options: Any) -> Plan:
        settings = load_settings(self.root)
        revision = current_revision(self.root, [settings.customers_dir, settings.plans_dir, "reconciler.toml"])
        cache = DocumentCache(self.cache_file)
        try:
            return reconcile.make_plan(self.root, settings, self.provider, at=at, revision=revision, cache=cache, **options)
        finally:
            cache.save()

    def agree(self, at: dt.datetime = AT) -> Plan:
        """The fast plan, twice (the second from what the first kept), and the full plan: equal."""
        first = self.fast(at)
        again = self.fast(at)
        full = _full_plan(self.root, self.provider, at)
        assert first.to_json() == full.to_json()
        assert again.to_json() == full.to_json()
        assert first == full
        return full

    def errors_agree(self, at: dt.datetime = AT) -> list[str]:
        with pytest.raises(InvalidInput) as fast:
            self.fast(at)
        with pytest.raises(InvalidInput) as full:
            _full_plan(self.root, self.provider, at)
        assert str(fast.value) == str(full.value)
        return str(full.value).splitlines()

    def apply(self, plan: Plan) -> None:
        policy = LockPolicy("tester", dt.timedelta(seconds=60), dt.timedelta(0), lambda: dt.datetime.now(dt.UTC), lambda s: None)
        apply_plan(plan, self.provider, AUDIT, policy)

    def sql(self, statement: str) -> None:
        engine = self.provider._engine  # type: ignore[attr-defined]
        assert engine is not None
        with engine.begin() as connection:
            connection.execute(text(statement))


@pytest.fixture
def fleet(tmp_path: Path) -> Fixture:
    _fleet(tmp_path / "repo", 21)
    fixture = Fixture(tmp_path / "repo", tmp_path / "cache")
    fixture.provider.open()
    return fixture


def _edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / "customers.d" / name
    body = path.read_text(encoding="utf-8")
    assert old in body, (name, old)
    path.write_text(body.replace(old, new, 1), encoding="utf-8")


def test_the_fast_path_plans_what_the_full_path_plans(fleet: Fixture) -> None:
    root = fleet.root
    created = fleet.agree()
    assert len(created.changes) == 21
    fleet.apply(created)
    assert fleet.agree().empty

    # An edit in the work tree, then committed.
    _edit(root, "c000-acme-telecom.yaml", "channels: 300", "channels: 310")
    assert [change.key for change in fleet.agree().changes] == ["c000-acme-telecom"]
    GitRepo(root).commit("More channels")
    assert [change.key for change in fleet.agree().changes] == ["c000-acme-telecom"]

    # Scheduled changes: at Christmas the overlays are in effect.
    during = fleet.agree(IN_XMAS)
    assert during.changes

    # A rename: the file moves, and says where from.
    old = root / "customers.d/c001-fjord-connect.yaml"
    new = root / "customers.d/c001-fjord-connect-as.yaml"
    new.write_text("renamed_from: [c001-fjord-connect]\n" + old.read_text(encoding="utf-8"), encoding="utf-8")
    old.unlink()
    renamed = fleet.agree()
    assert any(change.renamed_from == "c001-fjord-connect" for change in renamed.changes)
    fleet.apply(renamed)
    assert fleet.agree().empty

    # A hand edit on the platform, which only the live store knows of.
    fleet.sql("UPDATE customer SET channels = 7 WHERE key = 'c002-globex-carrier'")
    assert [change.key for change in fleet.agree().changes] == ["c002-globex-carrier"]
    fleet.sql("UPDATE customer SET status = 'penalty' WHERE key = 'c003-kiwi-link'")
    held = fleet.agree()
    assert [hold.key for hold in held.held] == ["c003-kiwi-link"]

    # A customer the platform has and the reconciler never managed, with a file's name.
    fleet.sql(
        "INSERT INTO customer SELECT 'portal-made', 1, 0, 1, created_at, updated_at, 'Portal Made', renamed_from, "
        "channels, flow_speed, status, debit_limit, minimum_payment, topup_currencies, tax_percent, currency, "
        "paypal_email, website, p_asserted_id, portal_access, tags, vars, reseller, account_manager, invoice_schedule, "
        "invoice_due_days, invoice_template, invoice_create_on_payment, allow_inbound_zero_balance, ext_accounting_id, "
        "rtp_firewall, call_recording_retention_days, domain, daily_spend_limit, stir_shaken_attestation, "
        "timeout_first_reply, timeout_pdd, timeout_ring, address, approved_cli_only, require_email, require_mobile, "
        "notes, day_time_restriction, NULL, NULL FROM customer WHERE key = 'c004-nightowl-callcentre'"
    )
    assert "portal-made" in fleet.agree().unmanaged
    portal = (root / "customers.d/c004-nightowl-callcentre.yaml").read_text(encoding="utf-8")
    (root / "customers.d/portal-new.yaml").write_text(portal.replace("name: Customer 4", "name: Portal Made"))
    adopted = fleet.agree()
    assert any(change.renamed_from == "portal-made" for change in adopted.changes)

    # A file removed: its customer is deactivated.
    (root / "customers.d/c006-sunrise-mobile.yaml").unlink()
    assert any(change.key == "c006-sunrise-mobile" for change in fleet.agree().changes)

    # Catalogs: one that every customer keeps to, then one they break.
    config = root / "reconciler.toml"
    body = config.read_text(encoding="utf-8")
    config.write_text(body.replace('resellers = ["direct", "nordic-partners"]', 'resellers = ["direct", "nordic-partners", "other"]'))
    fleet.agree()
    config.write_text(body.replace('resellers = ["direct", "nordic-partners"]', 'resellers = ["direct"]'))
    assert any("is not in catalogs.resellers" in line for line in fleet.errors_agree())
    config.write_text(body)
    fleet.agree()

    # A file that breaks a rule, and two that share a name: the same errors, at the same lines.
    _edit(root, "c007-acme-telecom.yaml", "channels: 300", "channels: -3")
    assert len(fleet.errors_agree()) == 1
    _edit(root, "c007-acme-telecom.yaml", "channels: -3", "channels: 300")
    _edit(root, "c008-fjord-connect.yaml", "name: Customer 8", "name: customer 9")
    fleet.errors_agree()
    _edit(root, "c008-fjord-connect.yaml", "name: customer 9", "name: Customer 8")
    fleet.agree()


def test_a_changed_since_plan_agrees_with_one_that_reads_everything(fleet: Fixture) -> None:
    fleet.apply(fleet.agree())
    _edit(fleet.root, "c010-kiwi-link.toml", "channels = ", "channels = 1")
    fleet.sql("UPDATE customer SET channels = 7 WHERE key = 'c011-nightowl-callcentre'")
    fast = fleet.fast(changed_since="HEAD")
    cache_file = fleet.cache_file
    shutil.rmtree(cache_file.parent)
    cold = fleet.fast(changed_since="HEAD")
    assert fast.to_json() == cold.to_json()
    assert [change.key for change in fast.changes] == ["c010-kiwi-link"]  # the hand edit is a full plan's to see


def test_rows_read_while_workers_parse_the_edited_files_plan_what_the_full_path_plans(
    fleet: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past PATCH_AT_MOST edits, worker processes parse the edited files and this process
    reads the live rows that differ from what each chunk they finish holds, while they parse
    the next (`PendingRead.read_ahead`): the plan is the full path's for an edit that changes
    a customer, one that changes nothing, and one whose row was also edited by hand on the
    platform."""
    fleet.apply(fleet.agree())
    monkeypatch.setattr(fleet_module, "PARALLEL_FROM", 1)
    monkeypatch.setattr(fleet_module, "PATCH_AT_MOST", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    read_ahead: list[str] = []
    original = PendingRead.read_ahead

    def told(self: PendingRead, digests: dict[str, str]) -> None:
        read_ahead.extend(digests)
        original(self, digests)

    monkeypatch.setattr(PendingRead, "read_ahead", told)
    _edit(fleet.root, "c000-acme-telecom.yaml", "channels: 300", "channels: 310")
    _edit(fleet.root, "c003-kiwi-link.toml", "channels = 8", "channels = 8  # as it was")
    _edit(fleet.root, "c010-kiwi-link.toml", "channels = ", "channels = 1")
    fleet.sql("UPDATE customer SET notes = 'by hand' WHERE key = 'c010-kiwi-link'")
    plan = fleet.agree()
    assert sorted(read_ahead) == ["c000-acme-telecom", "c003-kiwi-link", "c010-kiwi-link"]
    assert [change.key for change in plan.changes] == ["c000-acme-telecom", "c010-kiwi-link"]
    assert any(change.path == "notes" for change in plan.changes[1].changes)


def test_a_store_of_schema_4_gets_its_digests_and_plans_nothing_to_do(fleet: Fixture) -> None:
    from store_versions import downgrade

    fleet.apply(fleet.agree())
    versions = {key: record.version for key, record in fleet.provider.read().items()}
    fleet.provider.close()

    class Spec:
        def engine(self) -> Any:
            return create_engine(f"sqlite:///{fleet.root / '.reconciler/live.sqlite'}")

    downgrade(Spec(), 4)
    assert fleet.provider.open().migrated_from == 4
    # The migration kept every version (a plan made before it is not stale), and knows every digest.
    assert {key: record.version for key, record in fleet.provider.read().items()} == versions
    settings = load_settings(fleet.root)
    desired = customers_at(load_base(fleet.root, settings), load_plans(fleet.root, settings), AT)
    read = fleet.provider.read_differing({key: digest(customer) for key, customer in desired.items()})
    assert read.records == {} and len(read.in_sync) == 21
    assert fleet.agree().empty


def test_a_write_outside_the_reconciler_bumps_the_version(fleet: Fixture) -> None:
    fleet.apply(fleet.agree())
    before = fleet.provider.read(["c000-acme-telecom"])["c000-acme-telecom"].version
    fleet.sql("UPDATE customer SET notes = 'by hand' WHERE key = 'c000-acme-telecom'")
    assert fleet.provider.read(["c000-acme-telecom"])["c000-acme-telecom"].version == before + 1


def test_a_customer_only_a_later_overlay_names_is_not_loaded_before_it(
    fleet: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At AT the overlay raising acme's limit (1 December) is not in effect: acme is as its
    file says, so a plan after an edit to another file the overlays name (sunrise, at
    Christmas) validates that file alone, and still agrees with the full plan."""
    from reconciler.desired import customers as customers_module

    fleet.apply(fleet.agree())
    _edit(fleet.root, "c006-sunrise-mobile.yaml", "channels: ", "channels: 1")
    validated: list[str] = []
    original = customers_module.validate

    def counting(model: type, document: Any) -> Any:
        validated.append(document.path.name)
        return original(model, document)

    monkeypatch.setattr(customers_module, "validate", counting)
    plan = fleet.fast()
    assert validated == ["c006-sunrise-mobile.yaml"]
    assert [change.key for change in plan.changes] == ["c006-sunrise-mobile"]
    assert fleet.fast(IN_XMAS).to_json() == _full_plan(fleet.root, fleet.provider, IN_XMAS).to_json()


def test_a_plan_walks_the_work_tree_once(fleet: Fixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The fleet's index and the plan's revision read one `git status` (a walk of every
    file: ~0.1 s of a core at 100,000), and the plan is the one each makes alone."""
    environ = {"USER": "tester", "RECONCILER_CACHE_DIR": str(tmp_path / "cache"), "NO_COLOR": "1", "PATH": os.environ["PATH"]}
    invoke(fleet.root, "apply", "--yes", "--at", AT.isoformat(), environ=environ).assert_success()
    _edit(fleet.root, "c003-kiwi-link.toml", "channels = ", "channels = 1")
    started: list[str] = []
    for module in (gitindex_module, git_module):
        asked = module.start_git

        def counted(root: Path, *args: str, asked: Any = asked, **options: Any) -> Any:
            started.append(args[0])
            return asked(root, *args, **options)

        monkeypatch.setattr(module, "start_git", counted)
    planned = invoke(fleet.root, "plan", "--at", AT.isoformat(), "--format", "json", environ=environ).assert_success()
    assert started.count("status") == 1 and "diff-files" not in started
    said = json.loads(planned.out)
    assert [(change["key"], change["action"]) for change in said["changes"]] == [("c003-kiwi-link", "update")]
    assert said["dirty"] is True
    monkeypatch.undo()
    alone = fleet.fast()
    assert [change.key for change in alone.changes] == ["c003-kiwi-link"] and alone.dirty
