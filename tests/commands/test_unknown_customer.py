"""`plan --customer KEY` and `apply --customer KEY` with a key that nothing has: an error that
says where it looked and which key was probably meant, never an empty plan."""

from __future__ import annotations

from pathlib import Path

from conftest import Run

AT = "2026-11-27T10:00:00Z"


def test_plan_names_the_customer_it_cannot_find_and_the_closest_key(project: Path, run: Run) -> None:
    outcome = run(project, "plan", "--customer", "acme-telcom", "--at", AT)
    assert outcome.code == 1
    assert outcome.err == (
        "error: no customer acme-telcom in customers.d/, plans/ or the live platform; did you mean acme-telecom?\n"
    )


def test_apply_says_the_same_and_applies_nothing(project: Path, run: Run) -> None:
    outcome = run(project, "apply", "--yes", "--customer", "acme-telcom", "--at", AT)
    assert outcome.code == 1
    assert outcome.err == (
        "error: no customer acme-telcom in customers.d/, plans/ or the live platform; did you mean acme-telecom?\n"
    )
    assert "to create" not in outcome.out


def test_without_a_close_key_there_is_no_suggestion(project: Path, run: Run) -> None:
    outcome = run(project, "plan", "--customer", "zzzz", "--customer", "acme-telecom", "--at", AT)
    assert outcome.err == "error: no customer zzzz in customers.d/, plans/ or the live platform\n"


def test_a_key_only_live_or_only_in_an_overlay_is_known(project: Path, run: Run) -> None:
    run(project, "apply", "--yes", "--at", AT).assert_success()
    (project / "customers.d/fjord-connect.yaml").unlink()
    # Live only: its file is gone, the plan deactivates it.
    outcome = run(project, "plan", "--customer", "fjord-connect", "--at", AT).assert_success()
    assert "  - fjord-connect" in outcome.out
