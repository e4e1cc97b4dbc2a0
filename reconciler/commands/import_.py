"""`reconciler import [KEY ...]`: write customer files from the live platform (bootstrap)."""

from __future__ import annotations

import argparse
from typing import Any

from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.config import CONFIG_NAME
from reconciler.errors import UnknownCustomer, UsageError
from reconciler.model.types import instant_text
from reconciler.providers.base import AuditContext, LiveCustomer, UnreadableCustomer
from reconciler.reconcile import open_provider
from reconciler.render.values import shown_key
from reconciler.schemas import write_schemas


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "import", help="write customer files from the live platform, to bootstrap a repository",
        description=(
            "Write customers.d/KEY.yaml (or .toml) for each active live customer, or for the KEYs "
            "given. A plan right after an import changes nothing. Existing files are kept unless "
            "--overwrite is given."
        ),
    )
    parser.add_argument("keys", nargs="*", metavar="KEY", help="only these customers (default: every active one)")
    parser.add_argument("--format", choices=("yaml", "toml"), default="yaml", help="file format (default: yaml)")
    parser.add_argument("--overwrite", action="store_true", help="replace customer files that already exist")


def run(args: argparse.Namespace, session: Session) -> Outcome:
    # Imported here: every command builds the parser, and ruamel.yaml costs the others 20 ms.
    from reconciler.importer import SCHEMA, import_customers

    if not (session.root / CONFIG_NAME).is_file():
        raise UsageError(
            f"no {CONFIG_NAME} in {session.root}: import writes customer files into a repository that says "
            "which live platform it reconciles; run `reconciler init` there first (then point its "
            f"{CONFIG_NAME} at the platform), or give -C the repository"
        )
    settings = session.settings()
    with open_provider(settings, environ=session.environ, root=session.root) as provider:
        live = provider.read(args.keys or None)
        target = provider.describe().target
        missing = sorted(set(args.keys) - live.keys())
        if missing:
            raise UnknownCustomer(f"not in the live store ({target}): {', '.join(missing)}")
        for key in sorted(key for key, record in live.items() if not record.active):
            print(f"skipped {shown_key(key)}: deactivated on the live platform (a file would reactivate it)", file=session.stderr)
        unreadable = sorted(key for key, record in live.items() if isinstance(record, UnreadableCustomer))
        for key in unreadable:
            record = live[key]
            assert isinstance(record, UnreadableCustomer)
            print(
                f"skipped {shown_key(key)}: {record.describe()}; fix the record on the platform and import it again",
                file=session.stderr,
            )
        active = {key: record for key, record in live.items() if record.active and isinstance(record, LiveCustomer)}
        imported = import_customers(
            session.root, settings.customers_dir, active, file_format=args.format, overwrite=args.overwrite,
            header=[f"Imported from {target} at {instant_text(session.now)}."],
        )
        if imported and not (session.root / SCHEMA).is_file():
            # The files' $schema comments point here: editors and check-jsonschema must find it.
            for written in write_schemas((session.root / SCHEMA).parent):
                print(f"{written.relative_to(session.root)}: written", file=session.stdout)
        # Where which live record a key means is the provider's own bookkeeping (connexcs: a
        # key -> id map), the imported customers are bound to their files now.
        bound = provider.bind(
            [entry.key for entry in imported if not entry.managed],
            AuditContext(actor=session.actor(), commit=None, plan_id=None),
        )
    for entry in imported:
        shown = entry.path.relative_to(session.root)
        what = "replaced" if entry.replaced else "written"
        adopt = (
            "; not managed yet: the next apply adopts it, changing no field"
            if not entry.managed and entry.key not in bound else ""
        )
        print(f"{shown}: {what}{adopt}", file=session.stdout)
    count = len(imported)
    adopting = sum(1 for entry in imported if not entry.managed and entry.key not in bound)
    promise = (
        f"`reconciler plan` now shows no field changes, and adopts the {adopting} not managed yet"
        if adopting else "`reconciler plan` now shows no changes"
    )
    print(f"Imported {count} customer{'s' if count != 1 else ''} from {target}; {promise}.", file=session.stdout)
    return Outcome.BLOCKED if unreadable else Outcome.DONE
