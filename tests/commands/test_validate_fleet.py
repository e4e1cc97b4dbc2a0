"""`validate` of a whole repository reads customers.d/ as a fleet: with a warm document
cache it loads only the customers scheduled changes touch, the others standing in by their
names and their number. Whatever it finds, it finds what reading every file finds: each case
here is validated warm, through the cache, and with no cache at all, and the outputs agree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, REPO
from git_repos import GitRepo
from invoke import invoke

from reconciler.desired.fleet import Fleet

# Overlays that break a rule only the whole fleet can tell (a name an untouched customer
# holds, a share of the whole fleet), one that breaks a rule of its own customer, one that
# names a customer no file has, and a fleet with nothing wrong.
CASES = {
    "valid": None,
    "a name an untouched customer holds": (
        "reason: Rebrand\ncustomers:\n  acme-telecom:\n    name: NightOwl Call Centre\n"
    ),
    "a share of the whole fleet": (
        "reason: Capacity\ncustomers:\n  acme-telecom:\n    channels: 301\n  globex-carrier:\n    channels: 401\n"
        "  fjord-connect:\n    channels: 51\n"
    ),
    "a value outside its catalog": (
        "reason: Move\ncustomers:\n  acme-telecom:\n    config:\n      reseller: elsewhere\n"
    ),
    "a customer no file has": "reason: Typo\ncustomers:\n  acme-telcom:\n    channels: 5\n",
}


def _repository(root: Path, overlay: str | None) -> GitRepo:
    repo = GitRepo(root)
    shutil.copytree(EXAMPLES, root / "customers.d")
    if overlay is None:  # the examples' own scheduled changes
        shutil.copytree(REPO / "plans", root / "plans")
    else:  # the case's change alone: 4 of the 7 customers untouched at most
        repo.write("plans/2027-03-01_case.yaml", overlay)
    # A share rule that counts the fleet of 7: 2 updates at one instant (29%) pass, 3 (43%) do not.
    config = (REPO / "reconciler.toml").read_text(encoding="utf-8")
    config = config.replace("min_fleet_for_share = 20", "min_fleet_for_share = 5")
    config = config.replace("max_update_share = 0.25", "max_update_share = 0.30")
    repo.write("reconciler.toml", config)
    repo.commit("A repository")
    return repo


@pytest.mark.parametrize("case", CASES)
def test_the_fleet_finds_what_reading_every_file_finds(tmp_path: Path, case: str) -> None:
    root = tmp_path / "repo"
    _repository(root, CASES[case])
    cached = {"RECONCILER_CACHE_DIR": str(tmp_path / "cache")}
    full = invoke(root, "validate", "--format", "json", environ={"RECONCILER_CACHE_DIR": ""})
    cold = invoke(root, "validate", "--format", "json", environ=cached)
    warm = invoke(root, "validate", "--format", "json", environ=cached)
    assert (cold.code, cold.out) == (full.code, full.out)
    assert (warm.code, warm.out) == (full.code, full.out)
    assert full.code == (0 if case == "valid" else 1)


def test_a_warm_validate_loads_only_what_scheduled_changes_touch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    _repository(root, None)
    cached = {"RECONCILER_CACHE_DIR": str(tmp_path / "cache")}
    invoke(root, "validate", environ=cached).assert_success()
    asked: list[str] = []
    original = Fleet.load

    def load(self: Fleet, keys: list[str]) -> object:
        asked.extend(keys)
        return original(self, keys)

    monkeypatch.setattr(Fleet, "load", load)
    warm = invoke(root, "validate", environ=cached).assert_success()
    assert sorted(asked) == ["acme-telecom", "kiwi-link", "northwind-voip", "sunrise-mobile"]
    assert warm.out.startswith("7 customers valid.\n")
