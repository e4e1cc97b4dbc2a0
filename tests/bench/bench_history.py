"""Benchmark: `log`, `blame` and `diff` on a repository with thousands of commits.

Run by `make bench` (or `pytest tests/bench/bench_history.py -o addopts="" -o python_files="bench_*.py" -s`).
The repository is generated with `git fast-import`: CUSTOMERS customer files, then COMMITS
commits by three authors, each changing one customer's file (a value, a tag, a rename
every 500 commits) or adding an overlay naming one. The timed calls are the CLI's own
functions: one `git log --raw` over customers.d/ and plans/, blobs read in one batch.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from pathlib import Path

from reconciler.config import load_settings
from reconciler.history.blame import customer_blame
from reconciler.history.log import customer_log
from reconciler.history.revisions import diff_revisions, resolve_range

CUSTOMERS = 500
COMMITS = 5_000
AUTHORS = ("Dana Whitfield <dana@carrier.example>", "Priya Raman <priya@carrier.example>", "CI Bot <ci@carrier.example>")
KEY = "customer-0007"  # changed by ~10 commits
OVERLAID = "customer-0070"  # named by ~10 overlays
RENAMED = "customer-0013-r500"


def _customer(number: int, channels: int, tags: str) -> str:
    return (
        f"name: Customer {number}\nchannels: {channels}\nflow_speed: {number % 50}\n"
        f"debit_limit: {number % 10000}.25\ncurrency: USD\nconfig:\n  tags: [{tags}]\n"
        f"  invoice:\n    schedule: monthly\n    due_days: 30\nnotes: Customer number {number}.\n"
    )


def _generate(root: Path) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    stream: list[bytes] = []
    start = int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp())

    def commit(number: int, message: str, files: dict[str, str], deletes: tuple[str, ...] = ()) -> None:
        author = AUTHORS[number % len(AUTHORS)]
        stamp = f"{start + number * 3600} +0000"
        body = message.encode()
        stream.append(f"commit refs/heads/main\ncommitter {author} {stamp}\ndata {len(body)}\n".encode() + body + b"\n")
        for path in deletes:
            stream.append(f"D {path}\n".encode())
        for path, text in files.items():
            data = text.encode()
            stream.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")

    names = {number: f"customer-{number:04d}" for number in range(CUSTOMERS)}
    commit(0, "Customers", {f"customers.d/{names[n]}.yaml": _customer(n, 10, "wholesale") for n in range(CUSTOMERS)})
    for number in range(1, COMMITS):
        target = (number * 7) % CUSTOMERS
        if number % 500 == 0:  # odd customers no overlay names, so the rename leaves none behind
            renamed = (number // 500) * 2 + 11
            old, new = names[renamed], f"{names[renamed]}-r{number}"
            names[renamed] = new
            text = f"renamed_from: [{old}]\n" + _customer(renamed, number, "wholesale")
            commit(number, f"Rename {old}", {f"customers.d/{new}.yaml": text}, (f"customers.d/{old}.yaml",))
        elif number % 10 == 0:
            day = dt.date(2025, 1, 1) + dt.timedelta(days=number // 10)
            overlay = f"reason: Change {number}\ncustomers:\n  {names[target]}:\n    channels: {number}\n"
            commit(number, f"Schedule {number}", {f"plans/{day.isoformat()}_change-{number}.yaml": overlay})
        else:
            tags = "wholesale, peak" if number % 3 else "wholesale"
            commit(number, f"Change {number}", {f"customers.d/{names[target]}.yaml": _customer(target, number, tags)})
    subprocess.run(["git", "-C", str(root), "fast-import", "--quiet"], input=b"".join(stream), check=True)
    subprocess.run(["git", "-C", str(root), "checkout", "-q", "-f", "main"], check=True)


def _timed(label: str, action: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        result = action()  # type: ignore[operator]
        best = min(best, time.perf_counter() - began)
    print(f"  {label:<44}{best * 1000:8.0f} ms  ({_size(result)})")
    return best


def _size(result: object) -> str:
    return f"{len(result)} entries" if isinstance(result, list) else type(result).__name__


def test_log_blame_diff_on_5000_commits(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    began = time.perf_counter()
    _generate(root)
    print(f"\n{COMMITS} commits, {CUSTOMERS} customers, generated in {time.perf_counter() - began:.1f} s")
    settings = load_settings(root)
    at = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    log_time = _timed(f"log {KEY} (file changes)", lambda: customer_log(root, settings, KEY))
    _timed(f"log {OVERLAID} (overlays)", lambda: customer_log(root, settings, OVERLAID))
    _timed(f"log {RENAMED} (renamed once)", lambda: customer_log(root, settings, RENAMED))
    _timed(f"blame {KEY}", lambda: customer_blame(root, settings, KEY, at))
    _timed(f"blame {OVERLAID}", lambda: customer_blame(root, settings, OVERLAID, at))
    _timed("diff HEAD~1000..HEAD (500 customers each side)",
           lambda: diff_revisions(root, *resolve_range(root, "HEAD~1000..HEAD"), at).changes)
    assert log_time < 10
