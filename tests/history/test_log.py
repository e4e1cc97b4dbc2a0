"""`reconciler log`: a customer's history across renames, overlays and reverts, on a real
git repository with several authors: exact output."""

from __future__ import annotations

from pathlib import Path

from conftest import Run
from git_repos import HISTORY_ACME, GitRepo


def test_log_follows_renames_overlays_and_reverts(repo: GitRepo, run: Run) -> None:
    c = {n: repo.short(f"HEAD~{n}") for n in range(7)}
    outcome = run(repo.root, "log", "acme-telecom").assert_success()
    assert outcome.out == (
        f"{c[1]}  2026-03-12T09:00:00Z  Priya Raman  Revert \"Raise Acme's debit limit\"\n"
        "    customers.d/acme-telecom.yaml: changed\n"
        "      debit_limit             2000.00 -> 1000.00\n"
        f"{c[2]}  2026-03-11T09:00:00Z  Dana Whitfield  Raise Acme's debit limit\n"
        "    customers.d/acme-telecom.yaml: changed\n"
        "      debit_limit             1000.00 -> 2000.00\n"
        f"{c[3]}  2026-03-10T12:00:00Z  Priya Raman  Schedule peak capacity for Acme\n"
        "    plans/2026-12-01_acme-capacity.yaml: scheduled from 2026-12-01T00:00:00Z\n"
        "      channels                (unset) -> 300\n"
        "      config.tags             (unset) -> [wholesale, peak]\n"
        f"{c[4]}  2026-03-01T08:00:00Z  Dana Whitfield  Rename acme to acme-telecom\n"
        "    customers.d/acme-telecom.yaml: renamed from customers.d/acme.yaml\n"
        "      renamed_from            (unset) -> [acme]\n"
        f"{c[5]}  2026-02-01T09:30:00Z  Priya Raman  More channels for Acme\n"
        "    customers.d/acme.yaml: changed\n"
        "      channels                100 -> 150\n"
        f"{c[6]}  2026-01-05T09:00:00Z  Dana Whitfield  Add Acme and Kiwi\n"
        "    customers.d/acme.yaml: added\n"
        "      name                    (unset) -> Acme Telecom\n"
        "      channels                (unset) -> 100\n"
        "      debit_limit             (unset) -> 1000.00\n"
        "      currency                (unset) -> USD\n"
        "      config.tags             (unset) -> [wholesale]\n"
        "      config.reseller         (unset) -> direct\n"
        "      notes                   (unset) -> Net-30 terms.\n"
    )


def test_log_of_a_toml_customer_shows_only_its_own_overlays(repo: GitRepo, run: Run) -> None:
    outcome = run(repo.root, "log", "kiwi").assert_success()
    assert outcome.out == (
        f"{repo.short('HEAD')}  2026-03-13T09:00:00Z  Dana Whitfield  Kiwi reopens in January\n"
        "    plans/2027-01-04_kiwi-reopens.toml: scheduled from 2027-01-04T00:00:00Z\n"
        "      channels                (unset) -> 10\n"
        f"{repo.short('HEAD~6')}  2026-01-05T09:00:00Z  Dana Whitfield  Add Acme and Kiwi\n"
        "    customers.d/kiwi.toml: added\n"
        "      channels                (unset) -> 8\n"
        "      currency                (unset) -> NZD\n"
    )


def test_log_follows_a_rename_git_detects_without_renamed_from(tmp_path: Path, run: Run) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("customers.d/old-name.yaml", HISTORY_ACME)
    repo.commit("Add", author="dana", date="2026-01-01T00:00:00Z")
    repo.git("mv", "customers.d/old-name.yaml", "customers.d/new-name.yaml")
    repo.commit("Rename", author="priya", date="2026-01-02T00:00:00Z")
    outcome = run(repo.root, "log", "new-name").assert_success()
    assert outcome.out.splitlines()[:4] == [
        f"{repo.short('HEAD')}  2026-01-02T00:00:00Z  Priya Raman  Rename",
        "    customers.d/new-name.yaml: renamed from customers.d/old-name.yaml",
        f"{repo.short('HEAD~1')}  2026-01-01T00:00:00Z  Dana Whitfield  Add",
        "    customers.d/old-name.yaml: added",
    ]


def test_log_of_an_unknown_customer(repo: GitRepo, run: Run) -> None:
    outcome = run(repo.root, "log", "nobody")
    assert (outcome.code, outcome.out) == (1, "")
    assert outcome.err == "error: customer 'nobody': no file customers.d/nobody.yaml or .toml, and no commit touches one\n"


def test_a_commit_s_words_reach_no_terminal_unescaped(repo: GitRepo, run: Run) -> None:
    """A pull request's commit message is not the operator's: what a terminal would act on in
    it (here, an escape that clears the screen) is shown escaped by log and blame."""
    path = repo.root / "customers.d/acme-telecom.yaml"
    path.write_text(path.read_text().replace("channels: 150", "channels: 160"))
    repo.commit("More channels\x1b[2J\x1b]0;owned\x07 for Acme", author="mallory")
    log = run(repo.root, "log", "acme-telecom").assert_success().out
    blame = run(repo.root, "blame", "acme-telecom").assert_success().out
    assert "\x1b" not in log + blame and "\x07" not in log + blame
    assert log.splitlines()[0].endswith("  More channels\\x1b[2J\\x1b]0;owned\\x07 for Acme")
    assert "  Mallory\\x1b[31m Red  More channels" in log
    channels = next(line for line in blame.splitlines() if line.startswith("channels "))
    assert channels.split()[1:] == ["160", repo.short(), "2026-01-01", "Mallory\\x1b[31m", "Red"]
