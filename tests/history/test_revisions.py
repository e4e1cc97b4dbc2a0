"""`reconciler diff`: desired state between two revisions (`history.revisions`), rendered as
a plan against git: ranges, the merge base, the working tree, and what the plan will block."""

from __future__ import annotations

from pathlib import Path

from conftest import Run
from git_repos import HISTORY_ACME, GitRepo
from invoke import NOW


def test_diff_between_revisions(repo: GitRepo, run: Run) -> None:
    outcome = run(repo.root, "diff", "HEAD~6..HEAD", "--at", "2026-12-02").assert_success()
    head = repo.git("rev-parse", "HEAD")
    plan_line, *rest = outcome.out.splitlines()
    assert plan_line.endswith(f" · at 2026-12-02T00:00:00Z · commit {head[:7]} · git HEAD~6..HEAD")
    assert rest == [
        "  ~ acme-telecom            rename from acme",
        "      channels              100 -> 300",
        "      config.tags           + peak",
        "0 to create, 0 to update, 1 to rename, 0 to deactivate, 0 blocked.",
    ]


def test_diff_of_the_working_tree_against_the_upstream_merge_base(repo: GitRepo, run: Run) -> None:
    repo.git("branch", "-q", "feature")
    repo.git("checkout", "-q", "feature")
    repo.write("customers.d/northwind.yaml", "currency: EUR\nchannels: 20\n")
    repo.commit("Add Northwind", author="priya", date="2026-04-01T00:00:00Z")
    (repo.root / "customers.d/kiwi.toml").unlink()
    outcome = run(repo.root, "diff", "--at", "2026-05-01", "--detailed-exitcode")
    assert outcome.code == 2
    assert outcome.out.splitlines()[1:] == [
        "  + northwind               create (EUR, 20 channels, 0 cps, active)",
        "  - kiwi                    deactivate (removed from git)",
        "1 to create, 0 to update, 1 to deactivate, 0 blocked.",
    ]
    assert " · git main...working tree" in outcome.out.splitlines()[0]
    assert "(uncommitted changes)" in outcome.out.splitlines()[0]


def test_diff_markdown_and_json(repo: GitRepo, run: Run) -> None:
    markdown = run(repo.root, "diff", "HEAD~3..HEAD~2", "--format", "markdown").assert_success().out
    assert "| `debit_limit` | 1000.00 USD | 2000.00 USD |" in markdown
    json_text = run(repo.root, "diff", "HEAD~3..HEAD~2", "--format", "json").assert_success().out
    assert '"provider": "git"' in json_text and '"field": "debit_limit"' in json_text


def test_diff_of_a_range_with_an_invalid_side_names_the_revision(repo: GitRepo, run: Run) -> None:
    repo.write("customers.d/acme-telecom.yaml", "currency: usd\n")
    repo.commit("Break it", author="dana", date="2026-04-01T00:00:00Z")
    outcome = run(repo.root, "diff", "HEAD~1..HEAD")
    assert outcome.code == 1
    assert outcome.err.startswith("error: HEAD:customers.d/acme-telecom.yaml:1:11: currency: 'usd' is not an ISO 4217")


def test_diff_three_dots_starts_at_the_merge_base(repo: GitRepo, run: Run) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("customers.d/kiwi.toml", 'currency = "NZD"\nchannels = 12\n')
    repo.commit("Kiwi grows", author="priya", date="2026-04-01T00:00:00Z")
    repo.git("checkout", "-q", "main")
    repo.write("customers.d/acme-telecom.yaml", "renamed_from: [acme]\n" + HISTORY_ACME.replace("100", "111"))
    repo.commit("Acme on main", author="dana", date="2026-04-02T00:00:00Z")
    outcome = run(repo.root, "diff", "main...feature", now=NOW).assert_success()
    assert outcome.out.splitlines()[1:] == [
        "  ~ kiwi                    update",
        "      channels              8 -> 12",
        "      from 2027-01-04T00:00:00Z on plans/2027-01-04_kiwi-reopens.toml sets channels to 10 (this change: 12)",
        "0 to create, 1 to update, 0 to deactivate, 0 blocked.",
    ]


def test_diff_shows_what_the_plan_will_block(tmp_path: Path, run: Run) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("customers.d/globex.yaml", "currency: EUR\nchannels: 10\n")
    repo.commit("Globex")
    repo.write("customers.d/globex.yaml", "currency: USD\nchannels: 10\n")
    outcome = run(repo.root, "diff", "HEAD", "--detailed-exitcode")
    assert outcome.code == 3  # what the plan after the merge would block fails the check
    assert run(repo.root, "diff", "HEAD").code == 3
    assert outcome.out.splitlines()[1:] == [
        "  ! globex                  blocked: currency EUR -> USD; the platform fixes a customer's",
        "                            currency at creation. Create a new customer in USD instead (a",
        "                            new file), and deactivate this one by removing its file.",
        "0 to create, 0 to update, 0 to deactivate, 1 blocked.",
    ]
