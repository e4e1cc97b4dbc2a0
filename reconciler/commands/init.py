"""`reconciler init [DIR]`: a customer repository of your own, ready for git and its pipelines.

Writes reconciler.toml (every option, commented), an example customer and an example
scheduled change, the JSON Schemas (so editors and the files' `$schema` comments resolve),
.gitignore, .pre-commit-config.yaml, editor settings that map the schemas to the folders,
and the three GitHub workflows. It never replaces a file unless told to.
"""

from __future__ import annotations

import argparse
import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Any

from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
from reconciler.documents.writing import write_file
from reconciler.errors import ExistingFile
from reconciler.model.types import instant_text
from reconciler.schemas import generated_schemas, render

# Where each starter file goes in the new repository.
STARTER: dict[str, str] = {
    "customers.d/example-carrier.yaml": "customer.yaml",
    ".gitignore": "gitignore",
    ".pre-commit-config.yaml": "pre-commit-config.yaml",
    ".vscode/settings.json": "vscode-settings.json",
    ".github/workflows/pull-request.yml": "workflows/pull-request.yml",
    ".github/workflows/apply.yml": "workflows/apply.yml",
    ".github/workflows/scheduled.yml": "workflows/scheduled.yml",
}


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "init", help="start a customer repository of your own (configuration, examples, schemas, pipelines)",
        description="Write a customer repository into DIR (default: the current folder): reconciler.toml, "
        "an example customer and scheduled change, the JSON Schemas, .gitignore, a pre-commit hook, editor "
        "settings and the GitHub workflows. Existing files are named and kept unless --force.",
    )
    parser.add_argument("dir", nargs="?", type=Path, default=None, metavar="DIR", help="where (default: here)")
    parser.add_argument(
        "--provider", choices=("sqlite", "postgresql"), default="sqlite",
        help="the live store to start with: the embedded sqlite (default) or a shared postgresql",
    )
    parser.add_argument("--force", action="store_true", help="replace files that are already there")


def run(args: argparse.Namespace, session: Session) -> Outcome:
    root: Path = args.dir if args.dir is not None else Path.cwd()
    files = starter_files(args.provider, session.now)
    existing = sorted(name for name in files if (root / name).exists())
    if existing and not args.force:
        raise ExistingFile(
            "\n".join(f"{root / name} already exists; pass --force to replace it" for name in existing)
        )
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, text.encode("utf-8"))
    for name in files:
        print(f"{'replaced' if name in existing else 'wrote'} {name}", file=session.stdout)
    print(_next_steps(root, args.provider), file=session.stdout)
    return Outcome.DONE


def starter_files(provider: str, now: dt.datetime) -> dict[str, str]:
    """Every file of a new repository, by its path in it."""
    starter = resources.files("reconciler") / "starter"
    files = {"reconciler.toml": (starter / f"reconciler-{provider}.toml").read_text(encoding="utf-8")}
    for name, source in STARTER.items():
        files[name] = (starter / source).read_text(encoding="utf-8")
    # The example scheduled change starts four weeks from now and lasts three days.
    start = dt.datetime.combine((now + dt.timedelta(days=28)).date(), dt.time(), dt.UTC)
    overlay = (starter / "overlay.yaml").read_text(encoding="utf-8")
    files[f"plans/{start.date().isoformat()}_example-peak.yaml"] = overlay.replace(
        "{until}", instant_text(start + dt.timedelta(days=3))
    )
    files.update({f"schemas/{name}": render(schema) for name, schema in generated_schemas().items()})
    return files


def _next_steps(root: Path, provider: str) -> str:
    lines = ["", "Next:"]
    if root.resolve() != Path.cwd().resolve():
        lines.append(f"  cd {root}")
    lines += ["  git init && git add -A && git commit -m 'Customers'", "  reconciler validate && reconciler plan"]
    needs = 'the pinned pip requirement of the reconciler (with the postgresql extra: "reconciler[postgresql] ...")'
    lines.append(
        "  In GitHub, set the repository variable RECONCILER_REQUIREMENT to "
        + (f"{needs}, and the secret RECONCILER_DATABASE_URL." if provider == "postgresql"
           else "the pinned pip requirement of the reconciler.")
    )
    return "\n".join(lines)
