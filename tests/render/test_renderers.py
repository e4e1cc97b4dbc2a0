"""Plan renderers: exact text for a terminal, a bounded pull-request comment, the saved JSON form."""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from reconciler.model.customer import Customer
from reconciler.model.diff import FieldChange
from reconciler.plan.file import PLAN_SCHEMA, plan_from_json
from reconciler.plan.plan import (
    Action,
    Blocked,
    BlockRule,
    CustomerChange,
    Held,
    HoldReason,
    Plan,
    Removal,
    RemovalCause,
)
from reconciler.providers.base import AuditRecord, ProviderInfo
from reconciler.render import renderer
from reconciler.render.live import history_lines
from reconciler.render.markdown import MarkdownRenderer

AT = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
COMMIT = "8d41c0b9e2f1a7c3d5b6e8f0a1b2c3d4e5f60718"


def _plan(changes: tuple[CustomerChange, ...] = (), blocked: tuple[Blocked, ...] = ()) -> Plan:
    return Plan(
        at=AT, commit=COMMIT, dirty=False, provider="sqlite", target="sqlite .reconciler/live.sqlite",
        changes=changes, blocked=blocked, fleet_size=3,
    )


ACME = CustomerChange(
    "acme-telecom", Action.UPDATE,
    (
        FieldChange("debit_limit", "500", "750.00"),
        FieldChange("config.tags", ["wholesale"], ["wholesale", "wholesale-eu"], ("wholesale-eu",), ()),
        FieldChange("config.vars", "a = 1\nb = 2\n", "a = 1\nb = 3\n"),
    ),
    Customer.model_validate({
        "currency": "USD", "debit_limit": "750.00",
        "config": {"tags": ["wholesale", "wholesale-eu"], "vars": "a = 1\nb = 3\n"},
    }),
    "0123456789abcdef", 4,
)
NORTHWIND = CustomerChange.created("northwind-voip", Customer(currency="USD", channels=50, flow_speed=Decimal(5)))
OLD = CustomerChange("old-reseller-ltd", Action.DEACTIVATE, (), None, "fedcba9876543210", 9, removal=Removal(RemovalCause.FILE_REMOVED, commit=COMMIT))
GLOBEX = Blocked(
    "globex", "currency", BlockRule.CURRENCY_FIXED,
    "currency USD -> EUR; the platform fixes a customer's currency at creation.",
)


def _render(name: str, plan: Plan) -> str:
    out = io.StringIO()
    renderer(name).render(plan, out)
    return out.getvalue()


def test_text() -> None:
    plan = _plan((ACME, NORTHWIND, OLD), (GLOBEX,))
    assert _render("text", plan) == (
        f"Plan {plan.plan_id} · at 2026-11-27T10:00:00Z · commit 8d41c0b · sqlite .reconciler/live.sqlite\n"
        "  ~ acme-telecom            update\n"
        "      debit_limit           500.00 -> 750.00 USD\n"
        "      config.tags           + wholesale-eu\n"
        "      config.vars           (text changed)\n"
        "        @@ -1,2 +1,2 @@\n"
        "         a = 1\n"
        "        -b = 2\n"
        "        +b = 3\n"
        "  + northwind-voip          create (USD, 50 channels, 5 cps, active)\n"
        "  - old-reseller-ltd        deactivate (removed from git in 8d41c0b)\n"
        "  ! globex                  blocked: currency USD -> EUR; the platform fixes a customer's\n"
        "                            currency at creation.\n"
        "1 to create, 1 to update, 1 to deactivate, 1 blocked.\n"
    )


def test_a_create_is_shown_from_its_glance_without_reading_its_document(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan of 100,000 creates is shown on a terminal without a document unpacked for
    each (~0.8 s): a create's line is what the plan keeps of it at a glance
    (`model.fields.Packed`). (A pull request's comment shows a create's fields.)"""
    from reconciler.plan import plan as plan_module

    def unpacked(blob: bytes) -> None:
        raise AssertionError("a document was read to show a create")

    monkeypatch.setattr(plan_module, "unpacked_document", unpacked)
    assert "  + northwind-voip          create (USD, 50 channels, 5 cps, active)\n" in _render("text", _plan((NORTHWIND,)))


def test_text_colour_only_when_asked() -> None:
    out = io.StringIO()
    renderer("text", color=True).render(_plan((NORTHWIND,)), out)
    assert "\033[32m  + northwind-voip" in out.getvalue()
    assert "\033[" not in _render("text", _plan((NORTHWIND,)))


def test_text_no_changes() -> None:
    assert _render("text", _plan()).endswith("\nNo changes.\n")


def test_markdown_puts_summary_and_blocked_first() -> None:
    text = _render("markdown", _plan((ACME, OLD), (GLOBEX,)))
    lines = text.splitlines()
    assert lines[2] == "| create | update | rename | deactivate | delete | blocked |"
    assert lines[4] == "| 0 | 1 | 0 | 1 | 0 | 1 |"
    assert text.index("globex") < text.index("acme-telecom")
    assert "| `debit_limit` | 500.00 USD | 750.00 USD |" in text
    assert "<details><summary>✏️ <code>acme-telecom</code> update, 3 fields</summary>" in text


def test_markdown_stays_under_the_limit_and_says_what_it_left_out() -> None:
    changes = tuple(
        CustomerChange(
            f"customer-{index:05d}", Action.UPDATE,
            tuple(FieldChange(f"notes{field}", "x" * 40, "y" * 40) for field in range(5)),
            Customer(currency="USD"), "0123456789abcdef", 1,
        )
        for index in range(2_000)
    )
    text = _render("markdown", _plan(changes))
    assert len(text) < 60_000
    shown = text.count("<details>")
    assert 0 < shown < 2_000
    assert f"…and {2_000 - shown} more customers not shown here" in text


def test_markdown_limit_is_a_parameter() -> None:
    out = io.StringIO()
    MarkdownRenderer(limit=1_500).render(_plan((ACME, OLD, NORTHWIND)), out)
    assert len(out.getvalue()) <= 1_500


def test_json_is_written_as_the_whole_plan_is_dumped() -> None:
    """Written a change at a time, the bytes of `json.dumps` of the whole plan, indented,
    and a line end: the form every command's JSON has."""
    plan = _plan((ACME, NORTHWIND, OLD))
    assert _render("json", plan) == json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n"


def test_json_is_the_saved_form_and_matches_the_schema() -> None:
    plan = _plan((ACME, NORTHWIND, OLD), (GLOBEX,))
    document = json.loads(_render("json", plan))
    jsonschema.Draft202012Validator(PLAN_SCHEMA).validate(document)
    assert document["plan_id"] == plan.plan_id
    assert plan_from_json(document, Path("plan.json")) == plan
    assert document["counts"] == {
        "create": 1, "update": 1, "adopt": 0, "reactivate": 0, "rename": 0, "deactivate": 1, "delete": 0, "blocked": 1,
    }


def test_plan_id_is_a_hash_of_the_content() -> None:
    assert _plan((ACME,)).plan_id == _plan((ACME,)).plan_id
    assert _plan((ACME,)).plan_id != _plan((ACME, OLD)).plan_id


def test_money_is_never_a_float_in_json() -> None:
    change = FieldChange("debit_limit", str(Decimal("0.1")), str(Decimal("0.30")))
    assert json.loads(json.dumps(change.to_json())) == {"field": "debit_limit", "before": "0.1", "after": "0.30"}


def test_text_aligns_field_names_on_the_longest_in_the_plan() -> None:
    change = CustomerChange(
        "acme-telecom", Action.UPDATE,
        (
            FieldChange("config.daily_spend_limit", "4000.00", "5000.00"),
            FieldChange("channels", 10, 20),
        ),
        Customer(currency="USD"), "0123456789abcdef", 4,
    )
    lines = _render("text", _plan((change,))).splitlines()
    assert lines[2:4] == [
        "      config.daily_spend_limit  4000.00 -> 5000.00 USD",
        "      channels                  10 -> 20",
    ]


def test_a_held_penalty_and_an_overlay_removal_say_why() -> None:
    held = Held("acme", "status", HoldReason.PENALTY, "penalty", "active")
    ended = CustomerChange(
        "pop-up", Action.DEACTIVATE, (), None, "f", 2,
        removal=Removal(RemovalCause.OVERLAY_ENDED, overlay="plans/2026-12-24_pop-up.yaml", until=AT),
    )
    plan = replace(_plan((ended,)), held=(held,))
    text = _render("text", plan)
    assert "  - pop-up                  deactivate (created by plans/2026-12-24_pop-up.yaml until 2026-11-27T10:00:00Z)\n" in text
    assert (
        "  = acme                    in penalty on the platform; status not changed (git says active; "
        "apply --lift-penalty acme lifts it)\n"
    ) in text
    markdown = _render("markdown", plan)
    assert "> [!NOTE]\n> **acme** in penalty on the platform; status not changed" in markdown
    document = json.loads(_render("json", plan))
    jsonschema.Draft202012Validator(PLAN_SCHEMA).validate(document)
    assert plan_from_json(document, Path("plan.json")) == plan


def test_live_history_aligns_field_names_on_the_longest_of_a_write() -> None:
    """A field name longer than the usual column (`config.stir_shaken_attestation`) widens
    the write's column, and its value never runs into it."""
    info = ProviderInfo("sqlite", "sqlite live.sqlite", frozenset({"audit"}))
    at = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    records = [
        AuditRecord(at, "ci", "8d41c0b", None, "acme", "create", path, None, value)
        for path, value in (("channels", 40), ("config.stir_shaken_attestation", "C"))
    ]
    assert history_lines(info, "acme", [records]) == [
        "2026-11-27T10:00:00Z  create     acme · commit 8d41c0b · by ci",
        "    channels                        (unset) -> 40",
        "    config.stir_shaken_attestation  (unset) -> C",
    ]
