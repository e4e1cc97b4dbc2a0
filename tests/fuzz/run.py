"""`make fuzz SECONDS=600`: run every fuzz target of tests/fuzz/test_fuzz.py for a while.

Each target is run again and again (each run tries new inputs) until its share of the time
is spent; a traceback stops everything and is shown. At the end: how many inputs each
target tried, all with zero tracebacks.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the helper modules
sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_fuzz

TARGETS = [
    test_fuzz.test_any_bytes_load_or_say_why,
    test_fuzz.test_structured_yaml_loads_or_says_why,
    test_fuzz.test_structured_toml_loads_or_says_why,
    test_fuzz.test_a_customer_s_vars_validate_or_say_why,
    test_fuzz.test_overlay_evaluation_reports_or_evaluates,
    test_fuzz.test_at_parses_or_says_why,
    test_fuzz.test_a_plan_file_loads_or_says_why,
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="the whole run (default 60)")
    args = parser.parse_args(argv)
    share = args.seconds / len(TARGETS)
    for target in TARGETS:
        deadline = time.monotonic() + share
        while time.monotonic() < deadline:
            target()
    total = sum(test_fuzz.TRIED.values())
    for name, count in sorted(test_fuzz.TRIED.items()):
        print(f"{name:<28} {count:>9,} inputs")
    print(f"{'all targets':<28} {total:>9,} inputs in {args.seconds:.0f} s, zero tracebacks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
