"""`reconciler blame`: the commit and author behind each value of a customer at an instant,
overlays and uncommitted changes included: exact output."""

from __future__ import annotations

from conftest import Run
from git_repos import GitRepo


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
