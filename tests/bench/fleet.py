"""The fleet benchmark: `make bench-fleet N=100000` (any N).

Generates a realistic fleet in a git repository (the example customers cloned, 57% YAML
and 43% TOML, every field in use, ~4 KB a file; overlays in plans/; a history of two
commits), kept in a folder of its own so a later run reuses it (`--dir`, default
$TMPDIR/reconciler-fleet-N). Then it times each command a person or a pipeline runs on a
fleet, each in a process of its own, beside the time it takes merely to read every file's
bytes (the floor) measured in the same run. A command that leaves everything as it found
it (a warm plan) runs five times, and one that does not (a cold cache, an apply) three times,
each from the same start (the cache emptied, the store put back): the median shows, with the
fastest and slowest run (one run of a cold `validate` of 100,000 took 17.5 s and the next,
minutes later, 24.1 s). The
peak memory of each command: the largest resident set of any one of its processes
(`wait4`'s ru_maxrss), and the largest sum over all its processes at once (sampled from
/proc every 10 ms), which counts worker processes together. And the CPU time of the
command and every process it waited for (workers, git: `wait4`'s user and system time):
where the machine is shared, a busy hour stretches the wall time of the same work far more
than its CPU time, so two builds measured in different hours compare better by it.

Prints one markdown table, a row for each row of issue 12's table. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
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
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example",
    "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example",
}


@dataclass(frozen=True)
class Measured:
    seconds: float
    cpu: float  # user and system seconds of the command and the processes it waited for
    largest_mib: float  # the largest resident set of one process of the command
    total_mib: float  # the largest sum of resident sets of all its processes at one instant
    runs: tuple[float, ...] = ()  # each run's seconds, where the command ran more than once


def repeated(measures: list[Measured]) -> Measured:
    """Runs of one command as one figure: the median time (a shared machine's noise, one
    run to the next, is a fifth of a warm plan), the largest memory of any run."""
    times = sorted(measured.seconds for measured in measures)
    return Measured(
        statistics.median(times), statistics.median(measured.cpu for measured in measures),
        max(measured.largest_mib for measured in measures),
        max(measured.total_mib for measured in measures), tuple(times),
    )


@dataclass(frozen=True)
class Row:
    step: str
    measured: Measured | None  # None: the floor itself
    floor: float

    def line(self) -> str:
        if self.measured is None:
            return f"| {self.step} | {self.floor:.2f} | 1.0x | | | |"
        measured = self.measured
        spread = f" ({measured.runs[0]:.2f}-{measured.runs[-1]:.2f}, {len(measured.runs)} runs)" if measured.runs else ""
        return (
            f"| {self.step} | {measured.seconds:.2f}{spread} | {measured.seconds / self.floor:.1f}x "
            f"| {measured.cpu:.2f} | {measured.largest_mib:,.0f} | {measured.total_mib:,.0f} |"
        )


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


def prepare(folder: Path, count: int) -> Path:
    """The fleet of COUNT customers in FOLDER, generated on the first run and reused after,
    reset to its commit and with no live store."""
    root = folder / "fleet"
    marker = folder / f"generated-{count}"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        generate(root, count)
        marker.touch()
    _git(root, "checkout", "-q", "--", ".")
    _git(root, "clean", "-q", "-f", "--", "customers.d", "plans")
    shutil.rmtree(root / ".reconciler", ignore_errors=True)
    return root


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def _tree_rss(pid: int) -> int:
    """The resident set of PID and all its descendants, in KiB (0 once it is gone)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status", encoding="ascii", errors="replace") as status:
                total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as children:
                    pending.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return total


def timed(root: Path, command: list[str], env: dict[str, str]) -> Measured:
    """Wall time and peak memory of COMMAND run in ROOT, in a process of its own."""
    # What the step before wrote (an apply of 100,000 creates: a gigabyte of store) is on the
    # disk first, not written back by the kernel while this command is timed.
    os.sync()
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak_total = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_total
        while not done.is_set():
            peak_total = max(peak_total, _tree_rss(process.pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # Read the output while it runs (a full pipe would stall it), then reap it with wait4.
    output: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda name=name, stream=stream: output.__setitem__(name, stream.read()))
        for name, stream in (("stdout", process.stdout), ("stderr", process.stderr))
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    done.set()
    for reader in readers:
        reader.join()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 2):
        raise SystemExit(
            f"{' '.join(command)} failed ({process.returncode}):\n"
            f"{output['stdout'][-2000:].decode()}\n{output['stderr'][-2000:].decode()}"
        )
    largest = usage.ru_maxrss / 1024  # KiB on Linux
    return Measured(elapsed, usage.ru_utime + usage.ru_stime, largest, max(peak_total / 1024, largest))


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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5, help="runs of each warm command (its median is shown)")
    parser.add_argument(
        "--cold-runs", type=int, default=3,
        help="runs of each command that changes what the next finds, a cold one or an apply, each from the same start",
    )
    parser.add_argument("--dir", type=Path, help="where the fleet is kept (default: $TMPDIR/reconciler-fleet-COUNT)")
    args = parser.parse_args(argv)
    folder = args.dir or Path(tempfile.gettempdir()) / f"reconciler-fleet-{args.count}"
    reconciler = [sys.executable, "-m", "reconciler", "-C", "."]
    root = prepare(folder, args.count)
    cache = folder / "cache"
    # The package of this tree, from its compiled bytecode as an installed one runs (a
    # PYTHONDONTWRITEBYTECODE inherited from a sandbox would compile every module every run).
    env = {**os.environ, "RECONCILER_CACHE_DIR": str(cache), "NO_COLOR": "1", "USER": "bench", "PYTHONPATH": str(REPO)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "reconciler")], check=True, env=env)
    base = floor(root)
    rows: list[Row] = [Row("reading every file's bytes (`find customers.d -type f -exec cat {} +`)", None, base)]
    creates: list[Row] = []

    def row(
        step: str, command: list[str], *, cold: bool = False, into: list[Row] = rows,
        start: Callable[[], None] | None = None,
    ) -> None:
        """RUNS of a command that leaves everything as it found it; COLD_RUNS of one that
        changes what the next finds (a cold cache, an apply), each from the same start: the
        cache emptied (COLD), and what START puts back."""
        changes = cold or command[0] == "apply"
        measures = []
        for _ in range(args.cold_runs if changes else args.runs):
            if cold:
                shutil.rmtree(cache, ignore_errors=True)
            if start is not None:
                start()
            measures.append(timed(root, [*reconciler, *command], env))
        into.append(Row(step, repeated(measures) if len(measures) > 1 else measures[0], base))
        print(f"  {into[-1].line()}", file=sys.stderr, flush=True)

    store = root / ".reconciler"
    row(
        f"`apply --yes` of {args.count:,} creates", ["apply", "--yes", "--at", AT], cold=True, into=creates,
        start=lambda: shutil.rmtree(store, ignore_errors=True),
    )
    row("`validate`, cold cache", ["validate"], cold=True)
    row("`validate`, warm cache", ["validate"])
    row("`plan`, cold cache, nothing changed", ["plan", "--at", AT], cold=True)
    row("`plan`, warm cache, nothing changed", ["plan", "--at", AT])
    row("`plan --changed-since HEAD`, nothing changed", ["plan", "--at", AT, "--changed-since", "HEAD"])
    _edit(root, 1)
    row("`plan --changed-since HEAD`, one file edited", ["plan", "--at", AT, "--changed-since", "HEAD"])
    row("`plan`, warm cache, one file edited", ["plan", "--at", AT])
    _git(root, "checkout", "-q", "--", ".")
    updates = min(args.updates, args.count)
    _edit(root, updates)
    # Each run of the updates from the store and cache the first found.
    before = folder / "before-updates"
    shutil.rmtree(before, ignore_errors=True)
    shutil.copytree(store, before / "store")
    shutil.copytree(cache, before / "cache")

    def put_back() -> None:
        for kept, used in ((before / "store", store), (before / "cache", cache)):
            shutil.rmtree(used, ignore_errors=True)
            shutil.copytree(kept, used)

    row(f"`apply --yes` of {updates:,} updates, plan included", ["apply", "--yes", "--at", AT], start=put_back)
    shutil.rmtree(before)
    _git(root, "checkout", "-q", "--", ".")
    print(f"Fleet of {args.count:,} customers on {platform.node()} ({os.cpu_count()} cores, "
          f"Python {platform.python_version()}), {time.strftime('%Y-%m-%d')}; reading every file's bytes: "
          f"{base:.2f} s (the floor).\n")
    print("| step | seconds | x floor | CPU seconds, all processes | peak RSS, largest process (MiB) "
          "| peak RSS, all processes (MiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for each in [*rows, *creates]:
        print(each.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
