"""`reconciler compact --before DATE [--write]`: fold overlays that took effect for good into the customer files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from reconciler.commands.options import parse_instant
from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.desired.state import load_schedule
from reconciler.errors import UsageError
from reconciler.model.types import instant_text


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "compact", help="fold scheduled changes that have taken effect into the customer files",
        description="Fold overlays that took effect before DATE and have no `until` into the customer "
        "files, keeping their comments and layout, and remove them. A dry run unless --write.",
    )
    parser.add_argument(
        "--before", type=parse_instant, required=True, metavar="DATE",
        help="fold overlays that took effect before this instant (ISO 8601 with zone, or a date)",
    )
    parser.add_argument("--write", action="store_true", help="rewrite and remove the files (default: only show)")


def run(args: argparse.Namespace, session: Session) -> Outcome:
    # Imported here: every command builds the parser, and ruamel.yaml costs the others 30 ms.
    from reconciler.desired.compact import compaction_edits, plan_compaction, write_edits

    if args.before > session.now:
        # Folding a change that is still to come would make it take effect at the next apply.
        raise UsageError(
            f"--before {instant_text(args.before)} is in the future: compact folds only changes that "
            f"have taken effect; give an instant up to now ({instant_text(session.now)})"
        )
    settings = session.settings()
    base, overlays = load_schedule(session.root, settings)
    compaction = plan_compaction(overlays, args.before)
    out = session.stdout
    for overlay, reason in compaction.kept:
        print(f"keep {_shown(overlay.path, session.root)}: {reason}", file=out)
    if not compaction.folded:
        print(f"Nothing to fold before {instant_text(args.before)}.", file=out)
        return Outcome.DONE
    edits = compaction_edits(base, compaction, session.root / settings.customers_dir)
    lines = []
    for edit in edits:
        verb = "remove" if edit.text is None else "rewrite" if edit.path.exists() else "create"
        if args.write:
            verb = {"remove": "removed", "rewrite": "rewrote", "create": "created"}[verb]
        summary = f": {edit.summary}" if edit.text is not None else ""
        lines.append(f"{verb} {_shown(edit.path, session.root)}{summary}")
    print("\n".join(lines), file=out)
    count = len(compaction.folded)
    noun = "overlay" if count == 1 else "overlays"
    if args.write:
        write_edits(edits)
        print(f"Folded {count} {noun}.", file=out)
    else:
        print(f"{count} {noun} to fold; nothing written (run with --write to do it).", file=out)
    return Outcome.DONE


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
