"""The whole job as plain functions over typed values: open the provider, make a plan.

The CLI commands are thin shells around these; tests call them directly with a pinned time.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from reconciler.config import CONFIG_NAME, Settings
from reconciler.desired.fleet import Index, load_fleet
from reconciler.desired.overlays import Overlay, change_instants
from reconciler.desired.state import Desired, customers_dir, desired_at, load_plans
from reconciler.documents.cache import DocumentCache, cache_of
from reconciler.documents.gitindex import WorkTree
from reconciler.documents.loader import SUFFIXES, Load, load_document
from reconciler.errors import ReconcilerError, UnknownCustomer
from reconciler.gc_pause import gc_paused
from reconciler.history import git
from reconciler.history.git import Revision
from reconciler.plan import safety
from reconciler.plan.compute import PlanContext, compute_plan
from reconciler.plan.plan import Plan
from reconciler.plan.punctuality import judge
from reconciler.providers import create_provider
from reconciler.providers.base import LiveCustomer, LiveRecord, Provider, ProviderConfig


def open_provider(settings: Settings, *, environ: Mapping[str, str], root: Path) -> Provider:
    """The provider reconciler.toml names, with its options, its mapping and its state store."""
    live = settings.live
    config = ProviderConfig(
        mapping=live.mapping,
        values=live.values,
        account_manager_ids=live.account_manager_ids,
        state=settings.state.model_dump(exclude_none=True, exclude={"allow_in_ci"}) if settings.state is not None else None,
    )
    return create_provider(live.provider, live.options, environ=environ, root=root, config=config)


def make_plan(
    root: Path,
    settings: Settings,
    provider: Provider,
    *,
    at: dt.datetime,
    revision: Revision | Callable[[], Revision],
    only: Collection[str] | None = None,
    allow_bulk: bool = False,
    changed_since: str | None = None,
    lift_penalty: Collection[str] = (),
    repair: Collection[str] = (),
    load: Load = load_document,
    judge_schedule: bool = False,
    cache: DocumentCache | None = None,
    index: Index | None = None,
    changes: Changes | None = None,
) -> Plan:
    """Desired state at `at` against what `provider` holds now; with `changed_since`, only
    the customers `changed_keys` finds (read from the provider alone). `lift_penalty` and
    `repair` are the customers the operator set a rule aside for (see `PlanContext`).
    `judge_schedule` (a plan of now) names the scheduled changes missed or late. `revision`
    may be a function that gives it, called once the plan is made: git's status of a large
    work tree then runs beside the loading. `index`: git's listing of the customer files,
    when the caller started it (`desired.fleet.fleet_index`); `changes`: git's answer for
    `changed_since`, likewise (`start_changes`)."""
    # Desired and live state of a whole fleet are millions of small objects that are never
    # garbage: a collection over them mid-plan costs seconds, and frees nothing.
    asked = set(only) if only is not None else None
    if cache is None:  # a cache's `load` lends the fleet its cache
        cache = cache_of(load)
    # Planning the whole fleet, the store's scan of every row's digest runs beside the loading.
    read_differing = provider.start_read_differing() if only is None and changed_since is None else None
    with gc_paused():
        if cache is not None:
            load = cache.load
        overlays = load_plans(root, settings, load=load)
        # While worker processes parse files, this one reads the live rows that differ from
        # what each chunk of theirs holds, as it comes back (`PendingRead.read_ahead`).
        # The workers hand back each customer they parse as a plan of its create holds it:
        # those of keys the store lacks are kept (`Fleet.canonical`).
        fleet = load_fleet(
            root, settings, customers_dir(root, settings), cache, index=index,
            meanwhile=read_differing.read_ahead if read_differing is not None else None,
            documents=(lambda key: not read_differing.holds(key)) if read_differing is not None else _anything,
        )
        desired = desired_at(fleet, overlays, at, cache)
        if changed_since is not None:
            changed = changed_keys(root, settings, changed_since, at, overlays, changes)
            if changed is not None:
                only = changed if only is None else changed & set(only)
        in_sync: frozenset[str] = frozenset()
        if only is not None:
            keys = set(only)
            keys.update(old for key in only if key in desired for old in desired[key].renamed_from)
            live = provider.read(keys)
        else:
            read = (read_differing or provider.read_differing)(desired.digests())
            live, in_sync = read.records, read.in_sync
        if asked is not None:
            _check_known(asked, settings, desired, overlays, live, provider)
        if callable(revision):
            revision = revision()
        context = PlanContext(
            at=at,
            commit=revision.commit,
            dirty=revision.dirty,
            provider=provider.describe(),
            owned_fields=tuple(settings.owned_fields),
            safety=settings.safety,
            allow_bulk=allow_bulk,
            removed_in=_removed_in(root, settings, desired, live),
            ended=_ended(root, overlays, desired, at),
            lift_penalty=frozenset(lift_penalty),
            penalties_from_git=penalties_from_git(provider, live),
            repair=frozenset(repair),
        )
        plan = compute_plan(desired.subset(_planned(desired, live, in_sync, only)), live, context, only=only, in_sync=in_sync)
        fleet.made.clear()  # what the plan did not take
        if judge_schedule:
            schedule = settings.schedule
            since = at - dt.timedelta(days=schedule.lookback_days)
            covered = [run.at for run in provider.read_runs(since) if run.covered]
            plan = replace(plan, schedule=judge(
                overlays, covered, at, dt.timedelta(seconds=schedule.late_after_seconds), root,
            ))
            allowing = _bulk_allowed(overlays, max(covered, default=since), at)
            if plan.bulk_blocked and allowing:
                plan = safety.allow_bulk(plan, by=", ".join(f"{name} (allow_bulk)" for name in allowing))
        return plan


def _planned(
    desired: Desired, live: Mapping[str, LiveRecord], in_sync: frozenset[str], only: Collection[str] | None
) -> set[str]:
    """The customers `compute_plan` needs to see: those not known to be in sync (of `only`,
    when given), and any other that may claim a live record under another key (a rename,
    or the name of a live customer not managed yet: `compute._renames`)."""
    planned = {key for key in desired if key not in in_sync and (only is None or key in only)}
    if only is None:
        return planned  # every customer missing live is planned already
    claimable = {key for key in live if key not in desired}
    names = {
        record.customer.name.casefold() for key, record in live.items()
        if isinstance(record, LiveCustomer) and not record.managed and record.customer.name and key not in desired
    }
    if claimable or names:
        planned.update(
            key for key in desired
            if key not in live and key not in planned and desired.may_claim(key, claimable, names)
        )
    return planned


def _anything(key: str) -> bool:
    return True


def _check_known(
    asked: set[str],
    settings: Settings,
    desired: Mapping[str, Any],
    overlays: Sequence[Overlay],
    live: Mapping[str, LiveRecord],
    provider: Provider,
) -> None:
    """UnknownCustomer for a key of `--customer` that no customer file, overlay or live record
    has (a typo would otherwise plan nothing, and say nothing), with the closest key there is."""
    named = {key for overlay in overlays for key in overlay.customer_keys()}
    unknown = sorted(key for key in asked if key not in desired and key not in named and key not in live)
    if not unknown:
        return
    known = {*desired, *named, *provider.read()}
    where = f"{settings.customers_dir.strip('/')}/, {settings.plans_dir.strip('/')}/ or the live platform"
    lines = []
    for key in unknown:
        close = difflib.get_close_matches(key, sorted(known), n=1)
        lines.append(f"no customer {key} in {where}" + (f"; did you mean {close[0]}?" if close else ""))
    raise UnknownCustomer("\n".join(lines))


def _bulk_allowed(overlays: Sequence[Overlay], last_run: dt.datetime, at: dt.datetime) -> list[str]:
    """The overlays saying allow_bulk that start or end since the last run: the change they
    make was reviewed as a bulk change (`validate` counts it), so it goes through."""
    return [
        overlay.path.name for overlay in overlays
        if overlay.allow_bulk and any(
            instant is not None and last_run < instant <= at for instant in (overlay.effective_at, overlay.until)
        )
    ]


def _ended(
    root: Path, overlays: Sequence[Overlay], desired: Mapping[str, Any], at: dt.datetime
) -> dict[str, tuple[str, dt.datetime]]:
    """Customers an overlay created and that are gone at `at` because it ended: the overlay's
    file (relative to `root`) and its end, the latest such overlay for each."""
    ended: dict[str, tuple[str, dt.datetime]] = {}
    for overlay in overlays:
        if overlay.until is None or overlay.until > at:
            continue
        shown = str(overlay.path.relative_to(root)) if overlay.path.is_relative_to(root) else str(overlay.path)
        for key in overlay.create:
            if key not in desired and (key not in ended or ended[key][1] <= overlay.until):
                ended[key] = (shown, overlay.until)
    return ended


def penalties_from_git(provider: Provider, live: Mapping[str, LiveRecord]) -> frozenset[str]:
    """Live customers in penalty because the reconciler's last write of their status set it
    (from a file): asked of the audit only for customers in penalty, usually a handful."""
    if "audit" not in provider.describe().capabilities:
        return frozenset()
    in_penalty = [
        key for key, record in live.items() if isinstance(record, LiveCustomer) and record.customer.status == "penalty"
    ]
    return frozenset(key for key, record in provider.latest_audit(in_penalty, "status").items() if record.after == "penalty")


def _removed_in(
    root: Path, settings: Settings, desired: Mapping[str, Any], live: Mapping[str, LiveRecord]
) -> dict[str, str]:
    """The commits that removed the files of live customers no longer in git (asked of git
    only when there are such customers)."""
    if not any(record.managed and record.active and key not in desired for key, record in live.items()):
        return {}
    return git.removal_commits(root, settings.customers_dir)


Changes = Callable[[], tuple[set[str], dt.datetime]]  # what `start_changes` started: wait, and know


def start_changes(root: Path, settings: Settings, rev: str, work_tree: WorkTree | None = None) -> Changes:
    """Start asking git what `changed_keys` needs to know of REV (the files changed since, the
    time of its commit): a command starts it before opening the provider, so git walks the
    work tree on another core while the provider's modules load. GitError for an unknown REV.
    WORK_TREE: git's status, when the caller started it for the whole plan."""
    customers_dir, plans_dir = settings.customers_dir.strip("/"), settings.plans_dir.strip("/")
    return git.start_changes(root, rev, [customers_dir, plans_dir, CONFIG_NAME], work_tree)


def changed_keys(
    root: Path, settings: Settings, rev: str, at: dt.datetime, overlays: Sequence[Overlay], changes: Changes | None = None
) -> set[str] | None:
    """Customers whose effective definition may differ from what `rev` gave them: their file
    changed since `rev` (working tree included), an overlay naming them changed, or one of
    `overlays` (loaded already) naming them starts or ends between `rev`'s commit time and `at`. None: everything may have
    changed (reconciler.toml changed). CHANGES: git's answer of `start_changes`, when the
    caller started it."""
    customers_dir, plans_dir = settings.customers_dir.strip("/"), settings.plans_dir.strip("/")
    changed, since = (changes or start_changes(root, settings, rev))()
    if CONFIG_NAME in changed:
        return None
    keys: set[str] = set()
    changed_plans = sorted(path for path in changed if path.startswith(f"{plans_dir}/"))
    old_files = git.tree_files(root, rev, changed_plans) if changed_plans else {}
    old_contents = git.BlobReader(root).read(old_files.values())
    for path in sorted(changed):
        location = Path(path)
        if location.suffix not in SUFFIXES:
            continue
        if str(location.parent) == customers_dir:
            keys.add(location.stem)
        elif str(location.parent) == plans_dir:
            if path in old_files:
                keys |= _named(location, old_contents[old_files[path]])
            if (root / path).exists():
                keys |= _named(location, None, root / path)
    for overlay in overlays:
        if any(since < instant <= at for instant in change_instants([overlay])):
            keys |= overlay.customer_keys()
    return keys


def _named(location: Path, content: bytes | None, path: Path | None = None) -> set[str]:
    """The customer keys an overlay file names (none when it does not parse)."""
    try:
        data = load_document(path or location, content).data
    except ReconcilerError:
        return set()
    return {key for section in ("customers", "create") if isinstance(data.get(section), dict) for key in data[section]}
