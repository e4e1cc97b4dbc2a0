"""`reconciler validate`: every problem at once, as text, JSON or GitHub annotations."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Run


def _break(project: Path) -> None:
    (project / "customers.d" / "broken-co.yaml").write_text(
        "currency: USD\nchanels: 10\nconfig:\n  invoice:\n    due_days: -1\n", encoding="utf-8"
    )


def test_clean_examples(project: Path, run: Run) -> None:
    outcome = run(project, "validate").assert_success()
    assert outcome.out == "7 customers valid.\n"


def test_text_lists_every_problem_and_exits_1(project: Path, run: Run) -> None:
    _break(project)
    outcome = run(project, "validate")
    path = project / "customers.d" / "broken-co.yaml"
    assert outcome.code == 1
    assert outcome.out == (
        f"{path}:2:1: chanels: unknown field 'chanels'; did you mean 'channels'?\n"
        f"{path}:5:15: config.invoice.due_days: must be at least 0, not -1\n"
        "2 problems in 1 file.\n"
    )
    assert outcome.err == ""


def test_json_format(project: Path, run: Run) -> None:
    _break(project)
    outcome = run(project, "validate", "--format", "json")
    assert outcome.code == 1
    report = json.loads(outcome.out)
    assert report["valid"] is False
    assert report["problems"][0] == {
        "file": str(project / "customers.d" / "broken-co.yaml"),
        "line": 2,
        "column": 1,
        "field": "chanels",
        "message": "unknown field 'chanels'; did you mean 'channels'?",
    }


def test_github_format_escapes_workflow_commands(project: Path, run: Run) -> None:
    (project / "customers.d" / "odd-co.yaml").write_text("currency: USD\nstatus: 'a,b:c'\n", encoding="utf-8")
    outcome = run(project, "validate", "--format", "github")
    assert outcome.code == 1
    assert outcome.out == (
        f"::error file={project / 'customers.d' / 'odd-co.yaml'},line=2,col=9,title=status::"
        "'a,b:c' is not one of: active, inactive, penalty, pending_approval\n"
    )


def test_a_file_name_that_would_move_a_terminal_is_shown_escaped(project: Path, run: Run) -> None:
    """A pull request names its files: a name holding an escape sequence or a line feed is
    reported (it is no customer key, no overlay's instant) with both escaped, one line each."""
    (project / "customers.d" / "a\x1b[2Jb.yaml").write_text("currency: USD\n", encoding="utf-8")
    (project / "plans").mkdir(exist_ok=True)
    (project / "plans" / "2026-12-01_z\nfake.yaml").write_text("reason: x\n", encoding="utf-8")
    for format_name in ("text", "github"):
        outcome = run(project, "validate", "--format", format_name)
        assert outcome.code == 1 and "\x1b" not in outcome.out and "\nfake" not in outcome.out
    text = run(project, "validate").out.splitlines()
    assert text[0] == (
        f"{project}/customers.d/a\\x1b[2Jb.yaml: file name 'a\\x1b[2Jb.yaml' is not a customer key: use lower "
        "case letters, digits, '-' and '_' (at most 64), starting with a letter or digit"
    )
    assert text[1].startswith(f"{project}/plans/2026-12-01_z\\nfake.yaml: file name '2026-12-01_z")
    assert text[2] == "2 problems in 2 files."


def test_paths_may_be_files(project: Path, run: Run) -> None:
    outcome = run(project, "validate", str(project / "customers.d" / "acme-telecom.yaml")).assert_success()
    assert outcome.out == "1 customer valid.\n"


def test_bad_option_is_an_error_not_a_changes_exit(project: Path, run: Run) -> None:
    outcome = run(project, "validate", "--format", "xml")
    assert outcome.code == 1
    assert "argument --format: invalid choice: 'xml'" in outcome.err


def test_a_missing_customers_folder_is_an_error_not_an_empty_fleet(tmp_path: Path, run: Run) -> None:
    (tmp_path / "reconciler.toml").write_text('customers_dir = "customer.d"\n')
    outcome = run(tmp_path, "validate")
    assert outcome.code == 1
    assert outcome.err == (
        f"error: {tmp_path / 'customer.d'}: no such folder; create it, or set customers_dir in "
        "reconciler.toml to where the customer files are\n"
    )
    assert run(tmp_path, "plan").err == outcome.err


def test_channels_or_flow_speed_left_unset_is_a_warning_not_a_silent_zero(project: Path, run: Run) -> None:
    (project / "customers.d" / "quiet-co.yaml").write_text("currency: USD\nchannels: 5\n", encoding="utf-8")
    path = project / "customers.d" / "quiet-co.yaml"
    outcome = run(project, "validate").assert_success()
    assert outcome.out == (
        f"warning: {path}: flow_speed: not set, so the customer gets flow_speed 0, and what 0 means on the "
        "platform is not documented; set it explicitly\n"
        "8 customers valid.\n"
    )
    document = json.loads(run(project, "validate", "--format", "json").assert_success().out)
    assert (document["valid"], document["files"], [warning["field"] for warning in document["warnings"]]) == (
        True, 8, ["flow_speed"],
    )
    github = run(project, "validate", "--format", "github").assert_success().out
    assert github.startswith(f"::warning file={path},title=flow_speed::not set, so the customer gets flow_speed 0")


def test_the_json_count_of_files_is_the_same_valid_or_not(project: Path, run: Run) -> None:
    valid = json.loads(run(project, "validate", "--format", "json").out)
    _break(project)
    broken = json.loads(run(project, "validate", "--format", "json").out)
    assert (valid["files"], broken["files"]) == (7, 8)


def test_an_unknown_provider_is_named_at_its_line_with_a_suggestion(project: Path, run: Run) -> None:
    config = project / "reconciler.toml"
    config.write_text(config.read_text().replace('provider = "sqlite"', 'provider = "sqlit"'))
    outcome = run(project, "validate", str(config))
    assert outcome.code == 1
    assert outcome.out.splitlines()[0] == (
        f"{config}:12:12: live.provider: unknown provider 'sqlit'; did you mean 'sqlite'? "
        "available: connexcs, postgresql, sqlite"
    )
    assert run(project, "validate").out.splitlines()[0].endswith("did you mean 'sqlite'? available: connexcs, postgresql, sqlite")


def test_an_unknown_provider_option_is_named_at_its_line(project: Path, run: Run) -> None:
    config = project / "reconciler.toml"
    config.write_text(config.read_text().replace('path = ".reconciler/live.sqlite"', 'paht = "x.sqlite"'))
    outcome = run(project, "validate")
    assert outcome.code == 1
    assert outcome.out.splitlines()[0] == (
        f"{project / 'reconciler.toml'}:15:1: live.options.paht: the sqlite provider has no option 'paht'; "
        "did you mean 'path'? its options: allow_in_ci, path"
    )


def test_a_valid_configuration_given_alone_says_so(project: Path, run: Run) -> None:
    outcome = run(project, "validate", str(project / "reconciler.toml"))
    assert (outcome.code, outcome.out) == (0, "reconciler.toml valid.\n")
