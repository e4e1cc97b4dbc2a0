"""apply_plan of a plan made by the same process (`saved=False`, as `apply --yes` and the
agent apply): a record still at the version and digest the plan found is written without
being read again, and one that moved is read and judged as a saved plan's would be."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from reconciler.apply import LockPolicy, apply_plan
from reconciler.config import SafetySection
from reconciler.errors import ProviderError, StalePlan
from reconciler.model.customer import Customer
from reconciler.plan.compute import PlanContext, compute_plan
from reconciler.plan.plan import Plan
from reconciler.providers import create_provider
from reconciler.providers.base import AuditContext, Prepared, Provider, Write
from reconciler.providers.sqlite import SqliteProvider

AT = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
LOCK = LockPolicy("test", dt.timedelta(minutes=5), dt.timedelta(0), lambda: dt.datetime.now(dt.UTC), time.sleep)
AUDIT = AuditContext("test", None, None)
SAFETY = SafetySection(max_updates=100, max_deactivations=100, min_fleet_for_share=1000)


def usd(**fields: Any) -> Customer:
    return Customer.model_validate({"currency": "USD", **fields})


def _plan(provider: Provider, desired: dict[str, Customer]) -> Plan:
    context = PlanContext(at=AT, commit=None, dirty=False, provider=provider.describe(), safety=SAFETY)
    return compute_plan(desired, provider.read(), context)


@pytest.fixture
def provider(tmp_path: Path) -> Any:
    with create_provider("sqlite", {"path": "live.sqlite"}, environ={}, root=tmp_path) as made:
        apply_plan(_plan(made, {key: usd(channels=1) for key in ("acme", "globex", "kiwi")}), made, AUDIT, LOCK)
        yield made


def test_records_the_plan_found_are_written_without_being_read_again(provider: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _plan(provider, {key: usd(channels=2) for key in ("acme", "globex", "kiwi")})
    read: list[set[str]] = []
    original = type(provider).read

    def reading(self: Provider, keys: Any = None) -> Any:
        read.append(set(keys) if keys is not None else {"*"})
        return original(self, keys)

    monkeypatch.setattr(type(provider), "read", reading)
    report = apply_plan(plan, provider, AUDIT, LOCK, saved=False)
    assert report.counts()["applied"] == 3
    assert read == [set()]
    monkeypatch.undo()
    assert {key: (record.version, record.customer.channels) for key, record in provider.read().items()} == {
        "acme": (2, 2), "globex": (2, 2), "kiwi": (2, 2),
    }


def test_a_record_written_outside_since_the_plan_is_read_and_found_stale(provider: Provider, tmp_path: Path) -> None:
    plan = _plan(provider, {key: usd(channels=2) for key in ("acme", "globex", "kiwi")})
    engine = create_engine(f"sqlite:///{tmp_path / 'live.sqlite'}")
    with engine.begin() as connection:  # a hand edit on the platform: the trigger bumps the version
        connection.execute(text("UPDATE customer SET flow_speed = 7 WHERE key = 'globex'"))
    engine.dispose()
    with pytest.raises(StalePlan) as stale:
        apply_plan(plan, provider, AUDIT, LOCK, saved=False)
    assert "globex: " in str(stale.value) and "acme" not in str(stale.value)
    assert {record.version for record in provider.read().values()} == {1, 2}  # nothing written
    assert {key: record.version for key, record in provider.read().items()}["acme"] == 1


def test_a_record_whose_version_moved_with_its_content_the_same_is_read_and_written(
    provider: Provider, tmp_path: Path
) -> None:
    """Another version with the same content (a write outside that changed nothing): not
    the version the plan found, so the record is read whole; its content is what the plan
    found, so it is written, over the version it has now."""
    plan = _plan(provider, {"acme": usd(channels=2), "globex": usd(channels=1), "kiwi": usd(channels=1)})
    engine = create_engine(f"sqlite:///{tmp_path / 'live.sqlite'}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE customer SET version = version + 1 WHERE key = 'acme'"))
    engine.dispose()
    report = apply_plan(plan, provider, AUDIT, LOCK, saved=False)
    assert [(result.key, result.status) for result in report.results] == [("acme", "applied")]
    acme = provider.read()["acme"]
    assert (acme.version, acme.customer.channels) == (3, 2)


def test_a_record_another_apply_wrote_since_the_plan_is_found_stale(provider: Provider) -> None:
    plan = _plan(provider, {key: usd(channels=2) for key in ("acme", "globex", "kiwi")})
    other = _plan(provider, {"acme": usd(channels=1), "globex": usd(channels=5), "kiwi": usd(channels=1)})
    apply_plan(other, provider, AUDIT, LOCK, saved=False)
    with pytest.raises(StalePlan) as stale:
        apply_plan(plan, provider, AUDIT, LOCK, saved=False)
    assert str(stale.value).endswith("globex: channels is now 5, the plan expected 1")
    assert provider.read()["globex"].customer.channels == 5


def test_a_create_the_plan_made_is_written_from_its_document_without_its_customer_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A create holds its customer's canonical document alone (`CustomerChange.created`): a
    store that writes the canonical form is handed that (`Write.of_document`), no customer
    is made again, and what the file said is written."""
    with create_provider("sqlite", {"path": "live.sqlite"}, environ={}, root=tmp_path) as made:
        desired = {key: usd(channels=index, notes=f"the {key} account") for index, key in enumerate(("acme", "globex", "kiwi"))}
        plan = _plan(made, desired)
        made_again: list[Any] = []
        original = Customer.model_validate

        def counting(cls: type[Customer], value: Any, **options: Any) -> Customer:
            made_again.append(value)
            return original(value, **options)

        monkeypatch.setattr(Customer, "model_validate", classmethod(counting))
        report = apply_plan(plan, made, AUDIT, LOCK, saved=False)
        monkeypatch.undo()
        assert report.counts()["applied"] == 3
        assert made_again == []
        assert {key: record.customer for key, record in made.read().items()} == desired


class _Committing(SqliteProvider):
    """The SQLite store, noting when a batch's writes are begun and committed; its commit of
    the batch FAIL_AT raises, as a disk that is full would."""

    def __init__(self, path: Path, *, fail_at: int = 0) -> None:
        super().__init__(path)
        self.events: list[str] = []
        self.fail_at = fail_at

    def prepare_writes(self, writes: Sequence[Write]) -> Prepared:
        self.events.append(f"begun {writes[0].key}")
        return super().prepare_writes(writes)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with super().transaction():
            yield
            commit = sum(event.startswith("committed") for event in self.events) + 1
            if commit == self.fail_at:
                raise ProviderError("sqlite live.sqlite: database or disk is full")
            self.events.append(f"committed {commit}")


def _creates(store: _Committing) -> tuple[Plan, list[str]]:
    keys = [f"c{number}" for number in range(6)]
    return _plan(store, {key: usd(channels=1) for key in keys}), keys


def test_a_batch_s_writes_are_begun_two_batches_ahead_and_its_results_reported_once_committed(tmp_path: Path) -> None:
    """The writes of the next two batches are begun while one is written (a SQL store makes
    a bulk apply's apart), and made while it commits: the commit is the store's work alone.
    Each batch's results are reported once it has committed."""
    store = _Committing(tmp_path / "live.sqlite")
    plan, keys = _creates(store)
    reported: list[tuple[str, list[str]]] = []
    report = apply_plan(
        plan, store, AUDIT, LOCK, batch_size=2, saved=False,
        progress=lambda done, total, result: reported.append((result.key, list(store.events))),
    )
    assert report.counts()["applied"] == 6
    assert store.events == ["begun c0", "begun c2", "begun c4", "committed 1", "committed 2", "committed 3"]
    assert reported[:2] == [("c0", store.events[:4]), ("c1", store.events[:4])]
    assert set(store.read()) == set(keys)


def test_a_batch_whose_commit_fails_is_not_reported_and_none_after_it_is_written(tmp_path: Path) -> None:
    store = _Committing(tmp_path / "live.sqlite", fail_at=2)
    plan, _ = _creates(store)
    reported: list[str] = []
    with pytest.raises(ProviderError, match="database or disk is full"):
        apply_plan(plan, store, AUDIT, LOCK, batch_size=2, saved=False, progress=lambda done, total, result: reported.append(result.key))
    assert reported == ["c0", "c1"]
    assert set(store.read()) == {"c0", "c1"}
    assert {record.key for record in store.read_audit()} == {"c0", "c1"}
