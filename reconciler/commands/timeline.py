"""`reconciler timeline [KEY ...]`: every scheduled change, customer by customer, in order."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.commands.options import parse_instant
from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.desired.state import load_schedule
from reconciler.desired.timeline import build_timeline
from reconciler.errors import UnknownCustomer
from reconciler.history.git import commits_adding
from reconciler.history.review import HORIZON, scheduled_windows
from reconciler.model.messages import closest
from reconciler.model.types import later_by
from reconciler.render.mermaid import gantt
from reconciler.render.timeline import render_timeline_as


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "timeline", help="list scheduled changes (plans/) per customer, in order",
        description="Every scheduled change per customer: when, which fields (before -> after), why, "
        "which file and the commit that added it.",
    )
    parser.add_argument("keys", nargs="*", metavar="KEY", help="only these customers (default: all)")
    parser.add_argument(
        "--from", dest="start", type=parse_instant, metavar="INSTANT",
        help="only changes at or after this instant (ISO 8601 with zone, or a date)",
    )
    parser.add_argument(
        "--to", dest="end", type=parse_instant, metavar="INSTANT", help="only changes before this instant",
    )
    parser.add_argument(
        "--format", choices=("text", "markdown", "json", "mermaid"), default=None,
        help="text (default), markdown, json, or mermaid (a Gantt chart of the overlays in effect, "
        "from --from or now to --to or 90 days later)",
    )


def run(args: argparse.Namespace, session: Session) -> Outcome:
    settings = session.settings()
    base, overlays = load_schedule(session.root, settings)
    known = {*base, *(key for overlay in overlays for key in overlay.create)}
    for key in args.keys:
        if key not in known:
            close = closest(key, known)
            raise UnknownCustomer(
                f"no customer {key} in {settings.customers_dir}/ or {settings.plans_dir}/"
                + (f"; did you mean {close}?" if close else "")
            )
    if args.format == "mermaid":
        start = args.start or session.now
        end = args.end or later_by(start, HORIZON)
        windows = scheduled_windows(overlays, args.keys or None, start, end, settings.plans_dir.strip("/"))
        session.stdout.write(gantt(windows, start, end))
        return Outcome.DONE
    commits = commits_adding(session.root, [overlay.path for overlay in overlays])
    entries = build_timeline(
        base, overlays, commits=commits, keys=args.keys or None, start=args.start, end=args.end
    )
    render_timeline_as(args.format or settings.output.format, entries, session.root, session.stdout)
    return Outcome.DONE
