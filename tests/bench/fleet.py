"""The fleet benchmark: `make bench-fleet N=100000` (any N).

Generates a realistic fleet in a temporary git repository (the example customers cloned,
57% YAML and 43% TOML, every field in use, ~4 KB a file; overlays in plans/), applies it
to the embedded SQLite store, then times each command a person or a pipeline runs on a
fleet, each in a process of its own, with its peak RSS, beside the time it takes merely to
read every file's bytes (the floor) measured in the same run.

Prints one markdown table. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "customers.d"
NOTES = "Escalations go to the NOC bridge; billing questions to the account manager. " * 30
# A plan may change this many customers: the benchmark measures speed, not the thresholds.
CONFIG = """\
[live.options]
path = ".reconciler/live.sqlite"

[safety]
max_updates = 10000000
max_update_share = 1.0
max_deactivations = 10000000
max_deactivation_share = 1.0
apply_batch_size = 500

[catalogs]
resellers = ["direct", "nordic-partners"]
account_managers = ["Dana Whitfield", "Priya Raman"]
invoice_templates = ["standard", "wholesale-net30"]
domains = ["portal.carrier.example", "wholesale.carrier.example"]
"""
AT = "2026-11-27T10:00:00Z"


@dataclass(frozen=True)
class Row:
    step: str
    seconds: float
    peak_mib: float | None
    floor: float

    def line(self) -> str:
        rss = f"{self.peak_mib:,.0f}" if self.peak_mib is not None else ""
        return f"| {self.step} | {self.seconds:.2f} | {self.seconds / self.floor:.1f}x | {rss} |"


def _templates() -> list[tuple[str, str]]:
    """(suffix, text) of each example, its `name` made a placeholder and its renames dropped."""
    found = []
    for path in sorted(EXAMPLES.iterdir()):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^renamed_from.*\n", "", text)
        if path.suffix == ".toml":
            text = re.sub(r'(?m)^name = ".*"$', 'name = "{name}"', text)
            text = re.sub(r'(?m)^notes = ".*"\n', "", text)
            text = text.replace("\n[config]", f'\nnotes = "{NOTES}"\n\n[config]', 1)
        else:
            text = re.sub(r"(?m)^name: .*$", "name: {name}", text)
            text = re.sub(r"(?m)^notes:.*\n(?:  .*\n)*", "", text)
            text += f"\nnotes: |\n  {NOTES}\n"
        found.append((path.suffix, text))
    return found


def generate(root: Path, count: int) -> None:
    """COUNT customers, a hundredth of them under scheduled changes, committed to git."""
    customers = root / "customers.d"
    customers.mkdir(parents=True)
    templates = _templates()
    for number in range(count):
        suffix, text = templates[number % len(templates)]
        key = f"customer-{number:06d}"
        (customers / f"{key}{suffix}").write_text(text.replace("{name}", f"Customer {number}"), encoding="utf-8")
    plans = root / "plans"
    plans.mkdir()
    touched = range(0, count, 100)
    (plans / "2026-12-01_capacity.yaml").write_text(
        "reason: Capacity review\ncustomers:\n"
        + "".join(f"  customer-{number:06d}:\n    channels: {number % 900 + 10}\n" for number in touched),
        encoding="utf-8",
    )
    (plans / "2026-12-24T1800Z_xmas.yaml").write_text(
        "reason: Christmas peak\nuntil: 2026-12-27T06:00:00Z\ncustomers:\n"
        + "".join(f"  customer-{number:06d}:\n    flow_speed: 40\n" for number in touched),
        encoding="utf-8",
    )
    (root / "reconciler.toml").write_text(CONFIG, encoding="utf-8")
    (root / ".gitignore").write_text(".reconciler/\n", encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", f"{count} customers")


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example"}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def timed(root: Path, command: list[str], env: dict[str, str]) -> tuple[float, float | None]:
    """Wall time and peak RSS (MiB) of COMMAND run in ROOT, in a process of its own."""
    measure = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
    started = time.perf_counter()
    result = subprocess.run([*measure, *command], cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    peak = float(result.stderr.strip().splitlines()[-1]) / 1024 if measure else None
    return elapsed, peak


def floor(root: Path) -> float:
    """Reading every customer file's bytes: the time below which no command that reads them can go."""
    started = time.perf_counter()
    subprocess.run("find customers.d -type f -exec cat {} + > /dev/null", shell=True, cwd=root, check=True)
    return time.perf_counter() - started


def _edit(root: Path, count: int) -> None:
    """Raise the channels of COUNT customers (spread over the fleet)."""
    paths = sorted((root / "customers.d").iterdir())
    step = max(1, len(paths) // count)
    for path in paths[::step][:count]:
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^(channels\s*[:=]\s*)(\d+)", lambda match: f"{match[1]}{int(match[2]) + 1}", text, count=1)
        path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=10_000)
    args = parser.parse_args(argv)
    reconciler = [sys.executable, "-m", "reconciler", "-C", "."]
    with tempfile.TemporaryDirectory(prefix="reconciler-fleet-") as folder:
        root = Path(folder) / "fleet"
        cache = Path(folder) / "cache"
        env = {**os.environ, "RECONCILER_CACHE_DIR": str(cache), "NO_COLOR": "1", "USER": "bench"}
        generate(root, args.count)
        rows: list[Row] = []
        base = floor(root)

        def row(step: str, command: list[str], *, cold: bool = False) -> None:
            if cold:
                shutil.rmtree(cache, ignore_errors=True)
            seconds, peak = timed(root, [*reconciler, *command], env)
            rows.append(Row(step, seconds, peak, base))

        row(f"`apply --yes` of {args.count:,} creates", ["apply", "--yes", "--at", AT], cold=True)
        row("`validate`, cold cache", ["validate"], cold=True)
        row("`validate`, warm cache", ["validate"])
        row("`plan`, cold cache, nothing changed", ["plan", "--at", AT], cold=True)
        row("`plan`, warm cache, nothing changed", ["plan", "--at", AT])
        row("`plan --changed-since HEAD`, nothing changed", ["plan", "--at", AT, "--changed-since", "HEAD"])
        _edit(root, 1)
        row("`plan --changed-since HEAD`, one file edited", ["plan", "--at", AT, "--changed-since", "HEAD"])
        _git(root, "checkout", "-q", "--", ".")
        updates = min(args.updates, args.count)
        _edit(root, updates)
        row(f"`apply --yes` of {updates:,} updates, plan included", ["apply", "--yes", "--at", AT])
        print(f"Fleet of {args.count:,} customers on {platform.node()} ({os.cpu_count()} cores, "
              f"Python {platform.python_version()}), {time.strftime('%Y-%m-%d')}; reading every file's bytes: "
              f"{base:.2f} s (the floor).\n")
        print("| step | seconds | x floor | peak RSS (MiB) |")
        print("|---|---:|---:|---:|")
        for each in rows:
            print(each.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
