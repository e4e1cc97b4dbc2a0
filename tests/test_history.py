"""`log`, `blame` and `diff` on real git repositories with several authors, renames, overlays
and a revert: exact output."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Run
from git_repos import GitRepo

ACME = """currency: USD
name: Acme Telecom
channels: 100
debit_limit: 1000.00
config:
  tags: [wholesale]
  reseller: direct
notes: Net-30 terms.
"""


def history_repo(root: Path) -> GitRepo:
    """Seven commits by two authors: add, change, rename (renamed_from), overlay, change, revert,
    and an overlay for another customer."""
    repo = GitRepo(root)
    repo.write("customers.d/acme.yaml", ACME)
    repo.write("customers.d/kiwi.toml", 'currency = "NZD"\nchannels = 8\n')
    repo.commit("Add Acme and Kiwi", author="dana", date="2026-01-05T09:00:00Z")
    repo.write("customers.d/acme.yaml", ACME.replace("channels: 100", "channels: 150"))
    repo.commit("More channels for Acme", author="priya", date="2026-02-01T10:30:00+01:00")
    (root / "customers.d/acme.yaml").unlink()
    renamed = "renamed_from: [acme]\n" + ACME.replace("channels: 100", "channels: 150")
    repo.write("customers.d/acme-telecom.yaml", renamed)
    repo.commit("Rename acme to acme-telecom", author="dana", date="2026-03-01T08:00:00Z")
    repo.write(
        "plans/2026-12-01_acme-capacity.yaml",
        "reason: Peak season\ncustomers:\n  acme-telecom:\n    channels: 300\n    config:\n      tags: [wholesale, peak]\n",
    )
    repo.commit("Schedule peak capacity for Acme", author="priya", date="2026-03-10T12:00:00Z")
    repo.write("customers.d/acme-telecom.yaml", renamed.replace("1000.00", "2000.00"))
    repo.commit("Raise Acme's debit limit", author="dana", date="2026-03-11T09:00:00Z")
    repo.git("revert", "--no-edit", "HEAD", author="priya", date="2026-03-12T09:00:00Z")
    repo.write("plans/2027-01-04_kiwi-reopens.toml", 'reason = "Kiwi reopens"\n[customers.kiwi]\nchannels = 10\n')
    repo.commit("Kiwi reopens in January", author="dana", date="2026-03-13T09:00:00Z")
    return repo


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return history_repo(tmp_path / "repo")


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
    repo.write("customers.d/old-name.yaml", ACME)
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


def test_blame_names_the_commit_behind_each_value(repo: GitRepo, run: Run) -> None:
    outcome = run(repo.root, "blame", "acme-telecom", "--at", "2026-12-02").assert_success()
    first, overlay, revert = repo.short("HEAD~6"), repo.short("HEAD~3"), repo.short("HEAD~1")
    plans = "plans/2026-12-01_acme-capacity.yaml"
    assert outcome.out == (
        f"name             Acme Telecom                  {first}  2026-01-05  Dana Whitfield\n"
        f"channels         300                           {overlay}  2026-03-10  Priya Raman  {plans}\n"
        f"debit_limit      1000.00                       {revert}  2026-03-12  Priya Raman\n"
        f"currency         USD                           {first}  2026-01-05  Dana Whitfield\n"
        f"config.tags      [peak, wholesale]             {overlay}  2026-03-10  Priya Raman  {plans}\n"
        f"config.reseller  direct                        {first}  2026-01-05  Dana Whitfield\n"
        f"notes            Net-30 terms.                 {first}  2026-01-05  Dana Whitfield\n"
        "(34 more fields at their defaults; --all lists them)\n"
    )


def test_blame_before_the_overlay_and_with_uncommitted_changes(repo: GitRepo, run: Run) -> None:
    path = repo.root / "customers.d/acme-telecom.yaml"
    path.write_text(path.read_text().replace("channels: 150", "channels: 175"))
    outcome = run(repo.root, "blame", "acme-telecom", "--at", "2026-11-30", "--format", "json").assert_success()
    assert '"field": "channels",\n    "value": 175,\n    "commit": null' in outcome.out
    text = run(repo.root, "blame", "acme-telecom", "--at", "2026-11-30").assert_success().out
    assert text.splitlines()[1] == "channels         175                           (uncommitted)"


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
    repo.write("customers.d/acme-telecom.yaml", "renamed_from: [acme]\n" + ACME.replace("100", "111"))
    repo.commit("Acme on main", author="dana", date="2026-04-02T00:00:00Z")
    outcome = run(repo.root, "diff", "main...feature").assert_success()
    assert outcome.out.splitlines()[1:] == [
        "  ~ kiwi                    update",
        "      channels              8 -> 12",
        "0 to create, 1 to update, 0 to deactivate, 0 blocked.",
    ]


def test_diff_shows_what_the_plan_will_block(tmp_path: Path, run: Run) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.write("customers.d/globex.yaml", "currency: EUR\nchannels: 10\n")
    repo.commit("Globex")
    repo.write("customers.d/globex.yaml", "currency: USD\nchannels: 10\n")
    outcome = run(repo.root, "diff", "HEAD", "--detailed-exitcode")
    assert outcome.code == 2
    assert outcome.out.splitlines()[1:] == [
        "  ! globex                  blocked: currency EUR -> USD; the platform fixes a customer's",
        "                            currency at creation. Create a new customer in USD instead (a",
        "                            new file), and deactivate this one by removing its file.",
        "0 to create, 0 to update, 0 to deactivate, 1 blocked.",
    ]
