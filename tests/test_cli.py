"""The CLI boundary: handled errors are one line and an exit code; anything else is a bug."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import NOW, invoke

from reconciler import cli
from reconciler.commands import validate
from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session, World
from reconciler.errors import ConflictError, UnsafePlan


def _raising(error: BaseException) -> object:
    def run(args: argparse.Namespace, session: Session) -> Outcome:
        raise error

    return run


def test_a_handled_error_is_one_line_and_its_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(validate, "run", _raising(UnsafePlan("3 customers to deactivate, more than 1")))
    assert cli.main(["-C", str(tmp_path), "validate"]) == 3
    assert capsys.readouterr().err == "error: 3 customers to deactivate, more than 1\n"
    monkeypatch.setattr(validate, "run", _raising(ConflictError("acme: version 2, expected 1; re-plan")))
    assert cli.main(["-C", str(tmp_path), "validate"]) == 1
    assert capsys.readouterr().err == "error: acme: version 2, expected 1; re-plan\n"


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setattr(validate, "run", _raising(KeyboardInterrupt()))
    assert cli.main(["-C", str(tmp_path), "validate"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_bug_shows_its_traceback(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setattr(validate, "run", _raising(ZeroDivisionError("division by zero")))
    assert cli.main(["-C", str(tmp_path), "validate"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):\n")
    assert "ZeroDivisionError: division by zero\n" in err
    assert err.endswith("reconciler: this is a bug; please report it with the traceback above\n")


def test_usage_errors_exit_1_not_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: reconciler: argument COMMAND: invalid choice: 'frobnicate'")


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["--help"])
    assert caught.value.code == 0
    listing = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name.rstrip("_").replace("_", "-") in listing


def test_the_root_is_found_upward_as_git_finds_dot_git(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli.find_root(project / "customers.d") == project.resolve()
    (project / "reconciler.toml").unlink()
    (project / ".git").mkdir()
    assert cli.find_root(project / "customers.d") == project.resolve()
    monkeypatch.chdir(project / "customers.d")
    (project / "reconciler.toml").write_text('customers_dir = "customers.d"\n')
    outcome = invoke_without_root("validate")
    assert outcome == (0, "7 customers valid.\n")


def invoke_without_root(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    world = World(environ={}, clock=lambda: NOW, stdout=out, stderr=io.StringIO())
    return cli.main(list(argv), world=world), out.getvalue()


def test_common_options_go_before_or_after_the_command(project: Path) -> None:
    assert invoke_without_root("-C", str(project), "validate") == invoke_without_root("validate", "-C", str(project))
    assert invoke_without_root("validate", "-C", str(project), "--quiet") == (0, "")
    assert invoke_without_root("-q", "-C", str(project), "validate") == (0, "")


def test_verbose_says_where_and_how_long(project: Path) -> None:
    err = io.StringIO()
    world = World(environ={}, clock=lambda: NOW, stdout=io.StringIO(), stderr=err)
    assert cli.main(["-C", str(project), "validate", "--verbose"], world=world) == 0
    assert err.getvalue() == f"reconciler: validate in {project} took 0.00 s\n"


def test_no_color_is_no_color(project: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for flags, coloured in (([], True), (["--no-color"], False)):
        out = Terminal()
        world = World(environ={}, clock=lambda: NOW, stdout=out, stderr=io.StringIO())
        cli.main(["-C", str(project), "plan", "--at", "2026-11-27", *flags], world=world)
        assert ("\033[" in out.getvalue()) is coloured


def test_help_lists_the_exit_codes_and_each_command_its_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "exit codes (the same for every command):\n  0    done, or nothing to change\n" in capsys.readouterr().out
    for name in cli.COMMANDS:
        with pytest.raises(SystemExit):
            cli.main([name.rstrip("_").replace("_", "-"), "--help"])
        assert "\nexamples:\n  reconciler " in capsys.readouterr().out


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_come_from_the_parser(shell: str, tmp_path: Path) -> None:
    code, out = invoke_without_root("completion", shell)
    assert code == 0 and "reconciler" in out and "_ARGCOMPLETE" in out


def test_the_shell_is_answered_from_the_parser(tmp_path: Path) -> None:
    # As a shell asks: the command line so far in COMP_LINE; the answers in a file.
    answers = tmp_path / "answers"
    environ = {**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": "reconciler pl", "COMP_POINT": "13",
               "_ARGCOMPLETE_IFS": "\n", "_ARGCOMPLETE_STDOUT_FILENAME": str(answers)}
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from reconciler.cli import main; sys.exit(main())"],
        env=environ, capture_output=True, text=True, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert answers.read_text().split() == ["plan"]


def test_the_installed_command_runs_a_command_with_the_collector_off() -> None:
    """The `reconciler` script pip installs names `__main__.run`: the command line imported
    with the collector paused, then a command run with it off (what it builds lives until
    it ends), and its objects frozen on the way out."""
    from importlib.metadata import entry_points

    (point,) = [point for point in entry_points(group="console_scripts") if point.name == "reconciler"]
    assert point.value == "reconciler.__main__:run"
    script = (
        "import atexit, gc, sys\n"
        "from importlib.metadata import entry_points\n"
        "from reconciler import cli\n"
        "cli.main = lambda: print('collector on' if gc.isenabled() else 'collector off') or 0\n"
        "atexit.register(lambda: print('frozen' if gc.get_freeze_count() else 'not frozen'))\n"
        "[point] = [point for point in entry_points(group='console_scripts') if point.name == 'reconciler']\n"
        "point.load()()\n"
    )
    outcome = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert (outcome.returncode, outcome.stdout, outcome.stderr) == (0, "collector off\nfrozen\n", "")
    version = subprocess.run([sys.executable, "-m", "reconciler", "--version"], capture_output=True, text=True, check=False)
    assert (version.returncode, version.stdout) == (0, f"reconciler {cli.__version__}\n")


def test_the_agent_runs_with_the_collector_on(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent runs for days, and each cycle leaves its plan behind: it turns the
    collector on again that the command line turned off."""
    import gc

    from reconciler.agent import loop

    seen: list[bool] = []

    class Agent:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def run(self) -> None:
            seen.append(gc.isenabled())

    monkeypatch.setattr(loop, "Agent", Agent)
    gc.disable()
    try:
        outcome = invoke(project, "agent", "--no-fetch", "--listen", "127.0.0.1:0")
    finally:
        gc.enable()
    assert (outcome.code, seen) == (0, [True]), outcome.err
