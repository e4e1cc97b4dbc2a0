"""The CLI boundary: handled errors are one line and an exit code; anything else is a bug."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from reconciler import cli
from reconciler.commands import validate
from reconciler.commands.outcome import Outcome
from reconciler.commands.session import Session
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
