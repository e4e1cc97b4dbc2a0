"""Random valid customer documents, for the property tests of the stores and of apply."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st


def _money(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=low, max_value=high, places=4, allow_nan=False, allow_infinity=False)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


# Text a YAML or TOML writer must quote or escape: indicators, quotes, words YAML 1.1 reads
# as booleans or null, numbers, leading and trailing spaces, non-ASCII.
text = st.one_of(
    st.text(alphabet="abcXYZ 0189éß-_:#{}[],&*!|>'\"%@`\\", min_size=1, max_size=30),
    st.sampled_from(["yes", "NO", "on", "null", "~", "1.50", "0x1F", "21:00", "2026-12-01", " padded ", "-", "- x"]),
).filter(str.strip)
tags = st.lists(st.from_regex(r"[a-z0-9][a-z0-9_.:/-]{0,10}", fullmatch=True), max_size=4, unique=True)
clock = st.sampled_from(["00:00", "06:30", "08:00", "12:15", "18:00", "21:00", "23:59", "24:00"])


@st.composite
def windows(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(clock.filter(lambda value: value != "24:00"))
    end = draw(clock.filter(lambda value: value != start))
    window: dict[str, Any] = {"from": start, "to": end}
    days = draw(_maybe(st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), unique=True)))
    if days is not None:
        window["days"] = days
    return window


customers = st.fixed_dictionaries(
    {
        "currency": st.sampled_from(["USD", "EUR", "GBP", "NOK", "JPY"]),
        "channels": st.integers(0, 100_000),
        "flow_speed": _money(0, 10_000),
        "status": st.sampled_from(["active", "inactive", "penalty", "pending_approval"]),
        "debit_limit": _money(-1_000_000, 1_000_000),
        "minimum_payment": _money(0, 100_000),
        "topup_currencies": st.lists(st.sampled_from(["USD", "EUR", "GBP"]), unique=True),
        "tax_percent": _money(0, 100),
    },
    optional={
        "name": text,
        "notes": st.text(st.characters(exclude_categories=("Cc", "Cs")) | st.sampled_from("\t\n"), max_size=200),
        "config": st.fixed_dictionaries(
            {},
            optional={
                "paypal_email": st.just("billing@example.com"),
                "website": st.sampled_from(["https://acme.example", "http://x.example/path?q=1"]),
                "p_asserted_id": st.sampled_from(["default", "remove", "if_available", "required"]),
                "portal_access": st.dictionaries(
                    st.sampled_from(["balance", "cdr", "did", "routes"]), st.sampled_from(["show", "hide"])
                ),
                "tags": tags,
                "vars": st.sampled_from(['a = 1\n', '[limits]\nmax = 30\n', '# nothing\n']),
                "reseller": text,
                "invoice": st.fixed_dictionaries(
                    {},
                    optional={
                        "schedule": st.sampled_from(["none", "daily", "weekly", "monthly"]),
                        "due_days": st.integers(0, 365),
                        "template": text,
                        "create_on_payment": st.booleans(),
                    },
                ),
                "flags": st.fixed_dictionaries({"allow_inbound_zero_balance": st.booleans()}),
                "rtp_firewall": st.sampled_from(["locked", "unlocked"]),
                "call_recording_retention_days": st.integers(0, 3650),
                "domain": st.sampled_from(["sip.example.com", "a-b.c.example"]),
                "daily_spend_limit": _money(0, 100_000),
                "stir_shaken_attestation": st.sampled_from(["A", "B", "C"]),
            },
        ),
        "timeouts": st.fixed_dictionaries(
            {}, optional={"first_reply": st.integers(1, 300), "pdd": st.integers(1, 300), "ring": st.integers(1, 3600)}
        ),
        "address": st.fixed_dictionaries(
            {},
            optional={
                "lines": st.lists(text, max_size=4),
                "city": text,
                "postcode": st.text(alphabet="0123456789 AB", min_size=1, max_size=8).filter(str.strip),
                "country": st.sampled_from(["US", "GB", "NO", "DE"]),
            },
        ),
        "verification": st.fixed_dictionaries(
            {}, optional={"approved_cli_only": st.booleans(), "require_email": st.booleans(), "require_mobile": st.booleans()}
        ),
        "day_time_restriction": st.fixed_dictionaries(
            {"timezone": st.sampled_from(["UTC", "Europe/London", "Pacific/Auckland"]),
             "windows": st.lists(windows(), min_size=1, max_size=3)}
        ),
    },
)
