"""Crafted input gets a message with its file and position, never a traceback: nesting past
every limit, alias chains, instants at the ends of the calendar."""

from __future__ import annotations

from pathlib import Path

from conftest import Run


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    for name, text in {"customers.d/acme.yaml": "currency: USD\nchannels: 1\nflow_speed: 1\n", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_nesting_and_aliases_past_the_limits(tmp_path: Path, run: Run) -> None:
    chain = "a0: &a0 [" + "[" * 95 + "1" + "]" * 95 + "]\n"
    chain += "".join(f"a{n}: &a{n} [" + "[" * 90 + f"*a{n - 1}" + "]" * 90 + "]\n" for n in range(1, 8))
    root = _project(tmp_path, {
        "customers.d/deep.toml": 'currency = "USD"\n' + "a" + ".a" * 10_000 + " = 1\n",
        "customers.d/alias.yaml": "currency: USD\n" + chain,
        "plans/2026-12-02_deep.toml": 'reason = "r"\n[customers.acme]\n' + "b" + ".b" * 5_000 + " = 1\n",
    })
    outcome = run(root, "validate")
    assert outcome.code == 1 and "Traceback" not in outcome.err
    lines = outcome.out.replace(f"{root}/", "").splitlines()
    assert lines[0].startswith("customers.d/alias.yaml:3:100: a1[0]")
    assert lines[0].endswith(": alias *a0 nests the document more than 100 levels deep; write the values out instead")
    assert lines[1:] == [
        "customers.d/deep.toml: the document nests more than 100 levels deep; flatten it",
        "plans/2026-12-02_deep.toml: the document nests more than 100 levels deep; flatten it",
        "3 problems in 3 files.",
    ]


def test_instants_at_the_ends_of_the_calendar(tmp_path: Path, run: Run) -> None:
    root = _project(tmp_path, {
        "plans/2026-12-01_x.yaml": "reason: r\nuntil: 9999-12-31T23:00:00-05:00\ncustomers: {}\n",
    })
    outcome = run(root, "validate")
    assert outcome.out.replace(f"{root}/", "") == (
        "plans/2026-12-01_x.yaml:2:8: until: '9999-12-31T23:00:00-05:00' is out of range: the instant in UTC falls "
        "before year 1 or after 9999\n1 problem in 1 file.\n"
    )
    for command in (["plan", "--at"], ["timeline", "--from"], ["timeline", "--to"]):
        outcome = run(root, *command, "0001-01-01T00:00:00+01:00")
        assert outcome.code == 1
        assert outcome.err.startswith(
            f"error: reconciler {command[0]}: argument {command[1]}: '0001-01-01T00:00:00+01:00' is out of range: "
            "the instant in UTC falls before year 1 or after 9999\n"
        )
    (root / "plans/2026-12-01_x.yaml").unlink()
    diff = run(root, "timeline", "--format", "mermaid", "--from", "9999-12-01")
    assert diff.code == 0 and "9999-12-31" in diff.out  # the 90 days ahead stop at the calendar's end
