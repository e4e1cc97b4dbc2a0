"""`reconciler schema`: write the JSON Schemas generated from the models into schemas/."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.schemas import write_schemas


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "schema", help="write the JSON Schemas generated from the models",
        description="Write schemas/*.schema.json, generated from the typed models.",
    )
    parser.add_argument("--dir", type=Path, default=None, help="where to write them (default: ROOT/schemas)")


def run(args: argparse.Namespace, session: Session) -> Outcome:
    directory = args.dir or session.root / "schemas"
    changed = write_schemas(directory)
    for path in changed:
        print(f"wrote {path}", file=session.stdout)
    if not changed:
        print(f"{directory}: up to date", file=session.stdout)
    return Outcome.DONE
