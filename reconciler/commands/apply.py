"""`reconciler apply [FILE]`: make the live platform match the plan, under the provider's lock."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from reconciler.apply import LockPolicy, apply_plan, record_run
from reconciler.commands.options import add_at_option, add_customer_option, add_override_options
from reconciler.commands.outcome import Outcome, apply_outcome, plan_outcome
from reconciler.commands.session import Session
from reconciler.config import Settings
from reconciler.errors import StalePlan, UnsafePlan, UsageError
from reconciler.model.types import instant_text
from reconciler.plan.file import load_plan
from reconciler.plan.plan import Action
from reconciler.plan.safety import allow_bulk
from reconciler.providers.base import AuditContext
from reconciler.reconcile import open_provider
from reconciler.render import renderer
from reconciler.render.apply import progress_bar, render_apply_report
from reconciler.render.values import schedule_text


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "apply", help="apply a plan to the live platform",
        description=(
            "Without FILE: plan, show the plan, ask, apply. With FILE: apply exactly that saved plan, "
            "refusing customers whose live record changed since it was made."
        ),
    )
    parser.add_argument("plan_file", nargs="?", type=Path, metavar="FILE", help="a plan saved by `plan --out`")
    add_customer_option(parser)
    add_at_option(parser)
    add_override_options(parser)
    parser.add_argument("--allow-bulk", action="store_true", help="apply past the safety thresholds")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (pipelines)")
    parser.add_argument(
        "--ahead-of-schedule", action="store_true",
        help="allow --at an instant still to come: scheduled changes then take effect now (recorded in the audit)",
    )
    parser.add_argument(
        "--partial", action="store_true",
        help="with FILE: apply the customers that are not stale, skip the stale ones",
    )


def run(args: argparse.Namespace, session: Session) -> Outcome:
    if args.at is not None and args.at > session.now and not args.ahead_of_schedule:
        # Applying the future makes its scheduled changes happen now, and the next apply puts them back.
        raise UsageError(
            f"--at {instant_text(args.at)} is after now ({instant_text(session.now)}): the changes scheduled "
            "until then would take effect now, and the next apply would put them back; `plan --at` shows "
            "them without applying, or give --ahead-of-schedule to apply them early on purpose"
        )
    settings = session.settings()
    if session.environ.get("CI") == "true":
        _refuse_a_store_that_dies_with_the_job(settings)
    if not args.plan_file:
        session.start_listing(settings)
    with open_provider(settings, environ=session.environ, root=session.root) as provider:
        if args.plan_file:
            if args.lift_penalty or args.repair:
                raise UsageError(
                    "--lift-penalty and --repair belong to the plan: make it with "
                    "`reconciler plan --lift-penalty KEY --out FILE`, review it, then apply FILE"
                )
            plan = load_plan(
                args.plan_file, key=session.plan_key(settings),
                require_signature=settings.safety.require_signed_plans,
            )
            info = provider.describe()
            if (plan.provider, plan.target) != (info.name, info.target):
                raise StalePlan(
                    f"{args.plan_file} was made for {plan.target}, but reconciler.toml points at "
                    f"{info.target}; make a new plan"
                )
            deleted = [change.key for change in plan.changes if change.action is Action.DELETE]
            if deleted and settings.safety.on_removal != "delete":
                raise UnsafePlan(
                    f"{args.plan_file} deletes {', '.join(deleted)}, but reconciler.toml says "
                    f"on_removal = {settings.safety.on_removal!r}; make a new plan"
                )
            if args.allow_bulk and plan.bulk_blocked:
                plan = allow_bulk(plan)
            for note in plan.schedule:
                print(f"  ! {schedule_text(note)}", file=session.stdout)
        else:
            plan = session.plan(
                settings, provider, args, allow_bulk=args.allow_bulk, lift_penalty=args.lift_penalty, repair=args.repair
            )
            renderer("text", color=session.color()).render(plan, session.stdout)
        # A run at another instant than now says nothing of whether changes happened on time.
        punctual = args.plan_file is not None or args.at is None
        if not plan.changes:
            if punctual:
                record_run(provider, plan, None, session.actor(), session.world.clock())
            return plan_outcome(plan, detailed=False)
        if not args.plan_file and not args.yes and not plan.bulk_blocked and not _confirmed(session):
            print("Nothing applied.", file=session.stdout)
            return Outcome.DONE
        name = session.actor()
        safety = settings.safety
        report = apply_plan(
            plan, provider,
            AuditContext(
                actor=name, commit=plan.commit, plan_id=plan.plan_id,
                note=f"applied ahead of schedule (--at {instant_text(plan.at)})" if args.ahead_of_schedule else None,
            ),
            LockPolicy(
                holder=session.lock_holder(),
                ttl=dt.timedelta(seconds=safety.lock_ttl_seconds),
                wait=dt.timedelta(seconds=safety.lock_wait_seconds),
                clock=session.world.clock,
                sleep=session.world.sleep,
            ),
            only=args.customers if args.plan_file else None,
            partial=args.partial,
            progress=progress_bar(session.stderr) if session.is_tty(session.stderr) else None,
            batch_size=safety.apply_batch_size,
            saved=args.plan_file is not None,
        )
        if punctual:
            record_run(provider, plan, report, name, session.world.clock())
    render_apply_report(report, session.stdout)
    return apply_outcome(report)


def _refuse_a_store_that_dies_with_the_job(settings: Settings) -> None:
    """In CI, an SQLite file lives only as long as the job: applying into one (or keeping an
    API provider's state in one) would be lost, unless the configuration says it is meant."""
    live, state = settings.live, settings.state
    if live.provider == "sqlite" and not live.options.get("allow_in_ci"):
        raise UsageError(
            "refusing to apply into an SQLite store in CI: it lives only as long as this job, so the apply "
            "would be lost; point reconciler.toml at a shared store (postgresql, connexcs), or set "
            "allow_in_ci = true under [live.options] if a throwaway store is what you mean"
        )
    if live.provider not in ("sqlite", "postgresql") and (state is None or state.provider == "sqlite") and not (
        state is not None and state.allow_in_ci
    ):
        raise UsageError(
            f"refusing to apply to {live.provider} from CI with the state store in SQLite: the key -> id map, "
            "the audit and the lock would die with this job; set [state] provider = \"postgresql\" (with its "
            "url_env) in reconciler.toml, or allow_in_ci = true under [state] on a runner whose workspace persists"
        )


def _confirmed(session: Session) -> bool:
    if not session.world.stdin_is_tty:
        raise UsageError("refusing to apply without confirmation: not a terminal; pass --yes")
    answer = session.world.ask("Apply these changes? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
