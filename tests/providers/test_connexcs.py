"""The connexcs provider on the stand-in of the ConnexCS API (tests/connexcs_standin.py), over
real HTTP on loopback: the field mapping both ways, identity, paging, auth, retries and
faults, and the state store beside it. The shared contract is in test_contract.py."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from connexcs_standin import ConnexcsStandIn, Request
from live_stores import (
    ACCOUNT_MANAGER_IDS,
    CONNEXCS_ENVIRON,
    CONNEXCS_PASSWORD,
    CONNEXCS_USER,
    SECRET,
)
from sqlalchemy import create_engine, text

from reconciler.apply import LockPolicy, apply_plan
from reconciler.errors import ConfigError, ConflictError, ProviderError, ProviderUnavailable
from reconciler.model.customer import Customer
from reconciler.plan.compute import PlanContext, compute_plan
from reconciler.providers import create_provider
from reconciler.providers.base import AuditContext, LiveCustomer, ProviderConfig, UnreadableCustomer
from reconciler.providers.connexcs import ConnexcsProvider, slug
from reconciler.providers.connexcs_api import Answer, _status_text, json_text, record_id
from reconciler.providers.state import STATE_SCHEMA_VERSION

AUDIT = AuditContext(actor="ci@runner-7", commit="8d41c0b", plan_id="3f9c2e1a")
START = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
TOKEN = "panel-minted-long-lived-token-0123456789"


class FakeTime:
    """A clock that moves only when the provider sleeps: retries take no real time."""

    def __init__(self) -> None:
        self.now = START
        self.slept: list[float] = []

    def clock(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def cx() -> Iterator[ConnexcsStandIn]:
    with ConnexcsStandIn(user=CONNEXCS_USER, password=CONNEXCS_PASSWORD, long_lived_token=TOKEN,
                         slow_seconds=0.6) as standin:
        yield standin
    assert standin.errors == []


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


def configure(
    cx: ConnexcsStandIn, root: Path, time: FakeTime | None = None, *, config: ProviderConfig | None = None,
    environ: dict[str, str] | None = None, **options: Any,
) -> ConnexcsProvider:
    fake = time or FakeTime()
    return ConnexcsProvider.from_options(
        {"url": cx.url, **options}, environ=CONNEXCS_ENVIRON if environ is None else environ, root=root,
        config=config or ProviderConfig(account_manager_ids=ACCOUNT_MANAGER_IDS), sleep=fake.sleep, clock=fake.clock,
    )


@pytest.fixture
def provider(cx: ConnexcsStandIn, tmp_path: Path, time: FakeTime) -> Iterator[ConnexcsProvider]:
    with configure(cx, tmp_path, time) as made:
        yield made


def usd(**fields: Any) -> Customer:
    return Customer.model_validate({"currency": "USD", **fields})


def sent(cx: ConnexcsStandIn, method: str, path: str = "customer") -> list[Request]:
    return [request for request in cx.requests if (request.method, request.path) == (method, path)]


# --- the mapping, both ways --------------------------------------------------------------------


def test_money_goes_out_as_exact_decimal_text_and_comes_back_exact(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    customer = usd(debit_limit=Decimal("-99999999999999.9999"), flow_speed=Decimal("2.50"),
                   tax_percent=Decimal("20.0001"), config={"daily_spend_limit": Decimal("4000.5")})
    provider.create("acme", customer, AUDIT)
    [record] = cx.records()
    assert (record["debit_limit"], record["cps"], record["tax_percent"], record["daily_spend_limit"]) == (
        "-99999999999999.9999", "2.5", "20.0001", "4000.50"
    )
    live = provider.read()["acme"]
    assert isinstance(live, LiveCustomer)
    assert live.customer == customer
    assert live.customer.debit_limit.as_tuple() == Decimal("-99999999999999.9999").as_tuple()


@pytest.mark.parametrize("amount", [500, "500.00", "500", 500.25, "-0.0001"])
def test_money_is_read_from_a_number_a_string_or_an_integer(
    provider: ConnexcsProvider, cx: ConnexcsStandIn, amount: Any
) -> None:
    cx.seed({"name": "Acme", "currency": "USD", "status": "Active", "debit_limit": amount})
    live = provider.read()["acme"]
    assert isinstance(live, LiveCustomer)
    assert live.customer.debit_limit == Decimal(str(amount))


def test_decimals_as_json_numbers_are_written_from_their_text_never_a_float(tmp_path: Path) -> None:
    bodies: list[bytes] = []

    def platform(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            bodies.append(request.content)
            return httpx.Response(200, json={"id": 1})
        return httpx.Response(200, json=[])

    provider = ConnexcsProvider.from_options(
        {"url": "https://cx.example/api/cp/", "decimals": "number"}, environ=CONNEXCS_ENVIRON, root=tmp_path,
        transport=httpx.MockTransport(platform),
    )
    with provider:
        provider.create("acme", usd(debit_limit=Decimal("12345678901234.5678"), flow_speed=Decimal("0.1")), AUDIT)
    body = bodies[0].decode()
    assert '"debit_limit":12345678901234.5678,' in body and '"cps":0.1,' in body
    assert json.loads(body, parse_float=Decimal)["debit_limit"] == Decimal("12345678901234.5678")
    assert json_text({"a": [Decimal("1E+3"), None, True, "é"]}) == '{"a":[1000,null,true,"é"]}'
    with pytest.raises(TypeError, match="a float cannot be sent exactly"):
        json_text({"a": 0.1})


def test_enumerated_values_go_through_the_value_map(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    provider.create("acme", usd(status="pending_approval", config={"p_asserted_id": "if_available"}), AUDIT)
    record = cx.records()[0]
    assert (record["status"], record["p_asserted_id"]) == ("Pending Approval", "if_available")
    cx.seed({"name": "Globex", "currency": "EUR", "status": "Penalty"})
    live = provider.read()
    assert [live[key].customer.status for key in ("acme", "globex")] == ["pending_approval", "penalty"]


def test_a_value_map_entry_can_be_overridden(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    config = ProviderConfig(values={"status": {"active": "ACTIVE"}, "config.rtp_firewall": {"locked": "1"}})
    with configure(cx, tmp_path, config=config) as provider:
        provider.create("acme", usd(), AUDIT)
        assert (cx.records()[0]["status"], cx.records()[0]["rtp_firewall"]) == ("ACTIVE", "1")
        assert provider.read()["acme"].customer == usd()


def test_the_account_manager_goes_out_as_its_user_id(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    provider.create("acme", usd(config={"account_manager": "Priya Raman"}), AUDIT)
    assert cx.records()[0]["account_manager_id"] == 18
    cx.seed({"name": "Globex", "currency": "EUR", "status": "Active", "account_manager_id": "17"})
    live = provider.read()
    assert live["acme"].customer.config.account_manager == "Priya Raman"
    assert live["globex"].customer.config.account_manager == "Dana Whitfield"


def test_an_account_manager_without_a_user_id_is_refused_before_anything_is_sent(
    provider: ConnexcsProvider, cx: ConnexcsStandIn
) -> None:
    with pytest.raises(ProviderError) as caught:
        provider.create("acme", usd(config={"account_manager": "Nobody Known"}), AUDIT)
    assert str(caught.value) == (
        "acme: config.account_manager 'Nobody Known' has no ConnexCS user id; add it to "
        "[live.account_manager_ids] in reconciler.toml (name = user id)"
    )
    assert sent(cx, "POST") == []


def test_live_keys_the_mapping_does_not_know_are_never_sent_nor_compared(
    provider: ConnexcsProvider, cx: ConnexcsStandIn
) -> None:
    live_id = cx.seed({"name": "Acme", "currency": "USD", "status": "Active", "portal_theme": "dark", "x_flag": 1})
    record = provider.read()["acme"]
    provider.update("acme", usd(name="Acme", channels=5), record.version, AUDIT)
    [put] = sent(cx, "PUT", f"customer/{live_id}")
    assert put.json == {"channels": 5}
    cx.edit(live_id, portal_theme="light", credit="12.00", x_flag=2)
    again = provider.read()["acme"]
    assert (again.version, cx.records()[0]["portal_theme"]) == (2, "light")


def test_an_update_sends_only_the_fields_that_change(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    provider.create("acme", usd(channels=10, debit_limit=Decimal("500.00"), config={"tags": ["b", "a"]}), AUDIT)
    provider.update("acme", usd(channels=12, debit_limit=Decimal("500.0"), config={"tags": ["a", "b"]}), 1, AUDIT)
    assert sent(cx, "PUT", "customer/1")[0].json == {"channels": 12}
    provider.update("acme", usd(channels=12, debit_limit=Decimal("500.0"), config={"tags": ["a", "b"]}), 2, AUDIT)
    assert len(sent(cx, "PUT", "customer/1")) == 1  # nothing to change: nothing sent, still a write of ours
    assert provider.read()["acme"].version == 3


def test_an_odd_live_value_makes_that_customer_unreadable_and_no_other(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    cx.seed({"name": "Good", "currency": "USD", "status": "Active", "channels": "40"})
    cx.seed({"name": "Odd", "currency": "USD", "status": "Suspended", "debit_limit": "lots", "tags": "a,b",
             "account_manager_id": 99, "channels": -3})
    live = provider.read()
    good, odd = live["good"], live["odd"]
    assert isinstance(good, LiveCustomer) and good.customer.channels == 40
    assert isinstance(odd, UnreadableCustomer)
    assert [(problem.field, problem.value) for problem in odd.problems] == [
        ("status", "'Suspended'"),
        ("config.account_manager", "99"),
        ("channels", "-3"),
        ("debit_limit", "'lots'"),
        ("config.tags", "'a,b'"),
    ]
    assert odd.problems[0].reason == (
        "no value of ours is spelt so; the mapping knows Active, Inactive, Penalty, Pending Approval: add it to "
        '[live.values."status"] in reconciler.toml'
    )
    assert "[live.account_manager_ids]" in odd.problems[1].reason
    cx.edit(2, debit_limit="7")
    assert provider.read()["odd"].version == 1  # unmanaged: the platform's own, at version 1


def test_a_mapping_entry_can_be_overridden(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    config = ProviderConfig(mapping={"flow_speed": "flow_speed", "address.region": "province"})
    with configure(cx, tmp_path, config=config) as provider:
        provider.create("acme", usd(flow_speed=Decimal(3), address={"region": "Ontario"}), AUDIT)
        record = cx.records()[0]
        assert (record["flow_speed"], record["province"], "cps" in record, "state" in record) == ("3", "Ontario", False, False)
        assert ("flow_speed", "flow_speed") in provider.describe().mapping
        assert provider.read()["acme"].customer.address.region == "Ontario"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (ProviderConfig(mapping={"config.nope": "nope"}),
         'live.mapping."config.nope": no such field to map; mappable fields: name, channels, flow_speed'),
        (ProviderConfig(mapping={"channels": "credit"}), 'live.mapping."channels": \'credit\' is read-only on the platform'),
        (ProviderConfig(mapping={"channels": "a b"}), 'live.mapping."channels": \'a b\' is not an API field name'),
        (ProviderConfig(mapping={"channels": "cps"}),
         'live.mapping: "channels" and "flow_speed" are both mapped to cps; give each field its own API name'),
        (ProviderConfig(values={"notes": {"x": "y"}}), 'live.values."notes": not an enumerated field; enumerated fields: status'),
        (ProviderConfig(values={"status": {"suspended": "S"}}),
         'live.values."status".suspended: not a value of status; its values: active, inactive, penalty, pending_approval'),
        (ProviderConfig(values={"status": {"active": "Inactive"}}),
         'live.values."status": two of our values are spelt the same way; spell each its own'),
        (ProviderConfig(account_manager_ids={"Dana": 1, "Priya": 1}),
         'live.account_manager_ids."Priya": user id 1 is given to two managers'),
    ],
)
def test_a_wrong_mapping_entry_is_a_config_error_naming_it(
    cx: ConnexcsStandIn, tmp_path: Path, config: ProviderConfig, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        configure(cx, tmp_path, config=config)
    assert str(caught.value).startswith(message)


# --- identity ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [("Acme Telecom", "acme-telecom"), ("  Kiwi  Link (NZ)!", "kiwi-link-nz"), ("__x__", "x__"),
     ("Ünïcode GmbH", "n-code-gmbh"), ("a" * 70, "a" * 64), (None, ""), ("!!!", "")],
)
def test_the_slug_of_a_name(name: Any, key: str) -> None:
    assert slug(name) == key


def test_unmanaged_customers_are_keyed_by_the_slug_of_their_name(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    provider.create("acme", usd(), AUDIT)  # bound: its key is taken
    for name in ["ACME", "Globex Corp", "globex corp.", "???", "Kiwi"]:
        cx.seed({"name": name, "currency": "USD", "status": "Active"})
    live = provider.read()
    # "ACME" would be acme, which is bound; the two Globex names make one slug; "???" makes none.
    assert sorted((key, record.managed) for key, record in live.items()) == [
        ("5", False), ("acme", True), ("acme-2", False), ("globex-corp-3", False), ("globex-corp-4", False),
        ("kiwi", False),
    ]
    assert live["kiwi"].customer.name == "Kiwi"


def test_an_unmanaged_customer_is_adopted_by_an_update(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    live_id = cx.seed({"name": "globex", "currency": "EUR", "status": "Active", "channels": 3})
    record = provider.read()["globex"]
    assert (record.version, record.managed, record.customer.name) == (1, False, "globex")
    adopted = provider.update("globex", Customer(name="globex", currency="EUR", channels=3), 1, AUDIT)
    assert (adopted.version, adopted.managed) == (2, True)
    assert sent(cx, "PUT", f"customer/{live_id}") == []  # nothing differed: nothing sent
    assert provider.state.binding("globex") is not None
    assert [(r.action, r.field) for r in provider.read_audit("globex")] == [("update", None)]


def test_a_rename_rebinds_the_key_and_a_new_name_is_a_put(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    provider.create("acme", usd(channels=7), AUDIT)
    writes = len(cx.requests)
    renamed = provider.rename("acme", "acme-telecom", 1, AUDIT)
    assert (renamed.key, renamed.version, renamed.customer) == ("acme-telecom", 2, usd(channels=7))
    assert [request.method for request in cx.requests[writes:]] == ["GET"]  # re-read, nothing written
    assert cx.records()[0]["name"] == "acme"
    provider.update("acme-telecom", usd(channels=7), 2, AUDIT)  # no name of its own: its key
    assert sent(cx, "PUT", "customer/1")[-1].json == {"name": "acme-telecom"}
    provider.update("acme-telecom", usd(name="Acme Telecom Ltd", channels=7), 3, AUDIT)
    assert sent(cx, "PUT", "customer/1")[-1].json == {"name": "Acme Telecom Ltd"}
    assert provider.read()["acme-telecom"].customer.name == "Acme Telecom Ltd"


def test_a_name_change_in_the_panel_keeps_the_key(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    provider.create("acme", usd(name="Acme"), AUDIT)
    cx.edit(1, name="Acme Holdings")
    live = provider.read()
    assert sorted(live) == ["acme"]
    assert (live["acme"].version, live["acme"].customer.name) == (2, "Acme Holdings")


def test_bind_manages_imported_customers_as_they_are(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    cx.seed({"name": "Globex", "currency": "EUR", "status": "Active"})
    cx.seed({"name": "kiwi", "currency": "NZD", "status": "Active"})
    provider.read()
    assert provider.bind(["globex", "kiwi", "nobody"], AUDIT) == {"globex", "kiwi"}
    live = provider.read()
    assert {key: (record.managed, record.version) for key, record in live.items()} == {
        "globex": (True, 1), "kiwi": (True, 1),
    }
    assert live["kiwi"].customer.name == "kiwi"
    assert [(record.action, record.actor) for record in provider.read_audit("kiwi")] == [("import", "ci@runner-7")]
    assert sent(cx, "PUT", "customer/1") == [] and sent(cx, "POST") == []


def test_a_customer_removed_in_the_panel_can_be_created_again(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    provider.create("acme", usd(), AUDIT)
    httpx.delete(cx.url + "customer/1", auth=(CONNEXCS_USER, CONNEXCS_PASSWORD))
    assert provider.read() == {}
    provider.create("acme", usd(channels=2), AUDIT)
    assert [record["id"] for record in cx.records()] == [2]
    assert provider.read()["acme"].version == 1


def test_an_edit_in_the_panel_counts_as_a_write(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    provider.create("acme", usd(channels=10), AUDIT)
    cx.edit(1, channels=11)
    with pytest.raises(ConflictError) as caught:
        provider.update("acme", usd(channels=12), 1, AUDIT)
    assert str(caught.value) == (
        "acme: the live record is at version 2, the plan expected version 1: it changed since it was read; re-plan"
    )
    assert provider.read()["acme"].version == 2
    assert cx.records()[0]["channels"] == 11


def test_transaction_does_nothing_each_write_commits_by_itself(
    provider: ConnexcsProvider, cx: ConnexcsStandIn, tmp_path: Path
) -> None:
    with provider.transaction():
        provider.create("acme", usd(), AUDIT)
        with configure(cx, tmp_path) as other:
            assert sorted(other.read()) == ["acme"]


def test_a_closed_provider_opens_again_when_used(provider: ConnexcsProvider) -> None:
    provider.create("acme", usd(), AUDIT)
    provider.close()
    assert sorted(provider.read()) == ["acme"]
    assert provider.lock_status() is None


# --- paging -------------------------------------------------------------------------------------


def test_paging_reads_on_until_an_empty_page(tmp_path: Path) -> None:
    with ConnexcsStandIn(user=CONNEXCS_USER, password=CONNEXCS_PASSWORD, max_page=3) as cx:
        for number in range(7):
            cx.seed({"name": f"C{number}", "currency": "USD", "status": "Active"})
        with configure(cx, tmp_path, page_size=5) as provider:
            assert sorted(provider.read()) == [f"c{number}" for number in range(7)]
        pages = [(request.query["_startRow"], request.query["_endRow"]) for request in sent(cx, "GET")]
    # The server gave 3 rows where 5 were asked: only the empty page ends the listing.
    assert pages == [("0", "5"), ("3", "8"), ("6", "11"), ("7", "12")]


def test_paging_that_does_not_move_on_is_an_error(tmp_path: Path) -> None:
    def platform(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": 1, "name": "A", "currency": "USD", "status": "Active"}])

    provider = ConnexcsProvider.from_options(
        {"url": "https://cx.example/api/cp/"}, environ=CONNEXCS_ENVIRON, root=tmp_path,
        transport=httpx.MockTransport(platform),
    )
    with provider, pytest.raises(ProviderError) as caught:
        provider.read()
    assert str(caught.value) == (
        "GET customer answered rows 1 onwards with customers it listed already: its paging does not move on "
        "(_startRow is ignored?)"
    )


def test_a_few_bound_keys_are_read_one_by_one(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    provider.create("acme", usd(), AUDIT)
    provider.create("globex", usd(), AUDIT)
    cx.requests.clear()
    assert sorted(provider.read(["globex"])) == ["globex"]
    assert [(request.method, request.path) for request in cx.requests] == [("GET", "customer/2")]


# --- authentication ----------------------------------------------------------------------------


def test_basic_auth_on_every_call(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    provider.create("acme", usd(), AUDIT)
    provider.read()
    assert {request.auth for request in cx.requests} == {"basic"}


def test_jwt_refreshes_once_when_the_access_token_expires(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    with configure(cx, tmp_path, auth="jwt", jwt_lifetime=600, jwt_audience="ci") as provider:
        provider.create("acme", usd(), AUDIT)
        cx.expire_access_tokens()
        provider.update("acme", usd(channels=1), 1, AUDIT)
        provider.read()
    assert [(request.method, request.path) for request in cx.requests if request.path.startswith("auth")] == [
        ("POST", "auth/jwt/refresh"), ("GET", "auth/jwt"), ("GET", "auth/jwt"),
    ]
    assert sent(cx, "POST", "auth/jwt/refresh")[0].json == {"lifetime": 600, "audience": "ci"}
    assert {request.auth for request in cx.requests if request.path.startswith("customer")} == {"bearer"}


def test_jwt_mints_a_new_refresh_token_when_that_expired_too(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    with configure(cx, tmp_path, auth="jwt") as provider:
        provider.read()
        cx.expire_access_tokens()
        cx.expire_refresh_tokens()
        assert provider.read() == {}
    assert [(request.method, request.path) for request in cx.requests if request.path.startswith("auth")] == [
        ("POST", "auth/jwt/refresh"), ("GET", "auth/jwt"), ("GET", "auth/jwt"), ("POST", "auth/jwt/refresh"),
        ("GET", "auth/jwt"),
    ]


def test_a_401_after_a_fresh_token_is_a_clear_error(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    with configure(cx, tmp_path, auth="jwt") as provider:
        provider.read()
        cx.fail("GET", "customer", "401", times=2)
        with pytest.raises(ProviderError) as caught:
            provider.read()
    assert str(caught.value) == (
        "GET customer answered 401 Unauthorized: ConnexCS refused the credentials in "
        "RECONCILER_CONNEXCS_USER and RECONCILER_CONNEXCS_PASSWORD even with a fresh access token; check them "
        "(a token may have expired or been revoked)"
    )
    assert len(sent(cx, "GET", "auth/jwt")) == 2  # the first, and exactly one refresh


def test_a_long_lived_token_is_sent_as_it_is(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    environ = {"PANEL_TOKEN": TOKEN}
    with configure(cx, tmp_path, environ=environ, auth="token", token_env="PANEL_TOKEN") as provider:
        provider.create("acme", usd(), AUDIT)
        assert sorted(provider.read()) == ["acme"]
    assert {request.auth for request in cx.requests} == {"bearer"}
    assert not [request for request in cx.requests if request.path.startswith("auth")]


def test_wrong_credentials_name_the_variables_never_the_values(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    environ = {"RECONCILER_CONNEXCS_USER": CONNEXCS_USER, "RECONCILER_CONNEXCS_PASSWORD": "wrong-Pa55-guess"}
    with configure(cx, tmp_path, environ=environ) as provider, pytest.raises(ProviderError) as caught:
        provider.read()
    assert str(caught.value) == (
        "GET customer answered 401 Unauthorized: ConnexCS refused the credentials in "
        "RECONCILER_CONNEXCS_USER and RECONCILER_CONNEXCS_PASSWORD; check them (a token may have expired or "
        "been revoked)"
    )
    with configure(cx, tmp_path, environ=environ, auth="jwt") as provider, pytest.raises(ProviderError) as caught:
        provider.read()
    assert str(caught.value) == (
        "POST auth/jwt/refresh answered 401 Unauthorized: ConnexCS refused the credentials in "
        "RECONCILER_CONNEXCS_USER and RECONCILER_CONNEXCS_PASSWORD; check them"
    )


@pytest.mark.parametrize(
    ("options", "environ", "message"),
    [
        ({}, {}, "live.options.user_env: the environment variable RECONCILER_CONNEXCS_USER is not set; "
                 "set it to the ConnexCS control-panel user name"),
        ({"auth": "token"}, {}, "live.options.token_env: the environment variable RECONCILER_CONNEXCS_TOKEN is not "
                                "set; set it to a long-lived token minted in the control panel (Setup, Integrations, "
                                "JWT Keys)"),
        ({"auth": "oauth"}, CONNEXCS_ENVIRON, 'live.options.auth: expected "basic", "jwt" or "token", got \'oauth\''),
        ({"token_env": "X"}, CONNEXCS_ENVIRON, 'live.options.token_env: not used with auth = "basic"; remove it'),
        ({"jwt_lifetime": 60}, CONNEXCS_ENVIRON, 'live.options.jwt_lifetime: only with auth = "jwt"'),
        ({"page_size": 0}, CONNEXCS_ENVIRON, "live.options.page_size: must be at least 1 and at most 100000, not 0"),
        ({"write_concurrency": True}, CONNEXCS_ENVIRON, "live.options.write_concurrency: expected a int, got bool"),
        ({"timeout_seconds": "30"}, CONNEXCS_ENVIRON, "live.options.timeout_seconds: expected a number, got str"),
        ({"decimals": "float"}, CONNEXCS_ENVIRON, 'live.options.decimals: expected "string" or "number", got \'float\''),
        ({"user": "x"}, CONNEXCS_ENVIRON, "live.options.user: the connexcs provider has no option 'user'; did you mean 'user_env'? its "
                                          "options: auth, ca_bundle, decimals, jwt_audience, jwt_lifetime, page_size, "
                                          "password_env, retry_budget_seconds, timeout_seconds, token_env, url, "
                                          "user_env, write_concurrency"),
    ],
)
def test_wrong_options_are_config_errors_naming_the_option(
    tmp_path: Path, options: dict[str, Any], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        create_provider("connexcs", options, environ=environ, root=tmp_path)
    assert str(caught.value) == message


# --- the address --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/api/cp/", "http://localhost:9/api/cp", "http://[::1]:9/api/cp/",
                                 "https://app.connexcs.com/api/cp/", "https://cx.example:8443/api/cp"])
def test_https_or_http_to_loopback(tmp_path: Path, url: str) -> None:
    provider = create_provider("connexcs", {"url": url}, environ=CONNEXCS_ENVIRON, root=tmp_path)
    assert provider.describe().target == (
        f"connexcs {url.rstrip('/')}/ (state: sqlite .reconciler/state.sqlite)"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://app.connexcs.com/api/cp/", "live.options.url: http://app.connexcs.com would send the credentials in "
                                            "clear; use https:// (http is allowed to a loopback address only, such as "
                                            "127.0.0.1)"),
        ("http://10.0.0.8/api/cp/", "live.options.url: http://10.0.0.8 would send the credentials in clear; use "
                                    "https:// (http is allowed to a loopback address only, such as 127.0.0.1)"),
        (f"https://{CONNEXCS_USER}:{CONNEXCS_PASSWORD}@app.connexcs.com/api/cp/",
         "live.options.url: the address holds credentials; they belong in environment variables (user_env, "
         "password_env or token_env), never in reconciler.toml"),
        ("ftp://app.connexcs.com/", "live.options.url: expected an https:// address such as "
                                    "https://app.connexcs.com/api/cp/"),
        ("https://app.connexcs.com/api/cp/?debug=1", "live.options.url: expected the API's address without a query "
                                                     "or fragment"),
    ],
)
def test_an_address_that_would_leak_credentials_is_refused(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        create_provider("connexcs", {"url": url}, environ=CONNEXCS_ENVIRON, root=tmp_path)
    assert str(caught.value) == message


def test_a_ca_bundle_that_is_not_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    for bundle in ("missing.pem", "ca.pem"):
        with pytest.raises(ConfigError) as caught:
            create_provider("connexcs", {"ca_bundle": bundle}, environ=CONNEXCS_ENVIRON, root=tmp_path)
        assert str(caught.value).startswith(f"live.options.ca_bundle: {bundle} is not a readable CA bundle (")


# --- retries and faults -------------------------------------------------------------------------


def test_a_500_is_retried(provider: ConnexcsProvider, cx: ConnexcsStandIn, time: FakeTime) -> None:
    provider.create("acme", usd(), AUDIT)
    cx.fail("PUT", "customer/1", "500", times=2)
    assert provider.update("acme", usd(channels=3), 1, AUDIT).version == 2
    assert len(sent(cx, "PUT", "customer/1")) == 3
    assert len(time.slept) == 2


def test_a_storm_of_429s_is_ridden_out_honouring_retry_after(
    provider: ConnexcsProvider, cx: ConnexcsStandIn, time: FakeTime
) -> None:
    provider.create("acme", usd(), AUDIT)
    cx.fail("*", "customer", "429", times=6, retry_after="3")
    assert provider.update("acme", usd(channels=3), 1, AUDIT).version == 2
    assert len(time.slept) == 6 and all(seconds >= 3 for seconds in time.slept)
    assert cx.records()[0]["channels"] == 3


def test_retry_after_as_an_http_date(provider: ConnexcsProvider, cx: ConnexcsStandIn, time: FakeTime) -> None:
    cx.fail("GET", "customer", "429", retry_after="Fri, 27 Nov 2026 10:00:42 GMT")
    assert provider.read() == {}
    assert time.slept[0] == 42


def test_a_storm_past_the_budget_names_the_customer_the_endpoint_and_the_budget(
    cx: ConnexcsStandIn, tmp_path: Path, time: FakeTime
) -> None:
    with configure(cx, tmp_path, time, retry_budget_seconds=20) as provider:
        provider.create("acme", usd(), AUDIT)
        cx.fail("PUT", "customer/1", "429", times=1000, retry_after="4")
        with pytest.raises(ProviderUnavailable) as caught:
            provider.update("acme", usd(channels=3), 1, AUDIT)
        assert str(caught.value) == (
            "acme: PUT customer/1 answered 429 Too Many Requests after 6 attempts in 20.0 s; "
            "the retry budget of 20 s (live.options.retry_budget_seconds) is spent: the platform is rate limiting "
            "or unavailable; try again later"
        )
        # Refused for sure: the version it had still holds, and the audit records a failed write only.
        assert provider.read()["acme"].version == 1
        assert [record.action for record in provider.read_audit("acme")] == ["create"]
        assert [record.field for record in provider.state.read_audit("acme", results=("failed",))] == ["channels"]


def test_an_html_error_page_is_one_line_naming_the_endpoint_and_status(
    cx: ConnexcsStandIn, tmp_path: Path
) -> None:
    with configure(cx, tmp_path, retry_budget_seconds=0) as provider:
        cx.fail("GET", "customer", "html")
        with pytest.raises(ProviderError) as caught:
            provider.read()
    assert str(caught.value) == (
        "GET customer answered 502 Bad Gateway (an HTML page, not the API's JSON) after 1 attempt in 0.0 s; the "
        "retry budget of 0 s (live.options.retry_budget_seconds) is spent: the platform is rate limiting or "
        "unavailable; try again later"
    )


@pytest.mark.parametrize("fault", ["truncated", "nested"])
def test_a_body_that_is_not_the_apis_json_is_retried_then_one_line(
    cx: ConnexcsStandIn, tmp_path: Path, time: FakeTime, fault: str
) -> None:
    """A body cut off, or well-formed JSON nested deeper than Python's reader recurses (that
    one was a RecursionError and a traceback): retried within the budget, then one line."""
    with configure(cx, tmp_path, time, retry_budget_seconds=5) as provider:
        cx.fail("GET", "customer", fault, times=1)
        assert provider.read() == {}
        cx.fail("GET", "customer", fault, times=1000)
        with pytest.raises(ProviderError) as caught:
            provider.read()
    message = str(caught.value)
    assert message.startswith("GET customer answered 200 with a body that is not the API's JSON (cut off?) after ")
    assert "\n" not in message


def test_a_refusal_names_the_customer_endpoint_status_and_the_platforms_words(
    provider: ConnexcsProvider, cx: ConnexcsStandIn
) -> None:
    provider.create("acme", usd(), AUDIT)
    with pytest.raises(ProviderError) as caught:
        provider.update("acme", usd(currency="EUR"), 1, AUDIT)
    assert str(caught.value) == (
        "acme: the platform refused the write: PUT customer/1 answered 400 Bad Request: Currency cannot be changed "
        "once set"
    )
    cx.seed({"name": "acme-telecom", "currency": "USD", "status": "Active"})
    with pytest.raises(ProviderError) as caught:
        provider.create("other", usd(name="ACME-Telecom"), AUDIT)
    assert str(caught.value) == (
        "other: the platform refused the write: POST customer answered 409 Conflict: A customer with this name "
        "already exists"
    )


@pytest.mark.parametrize("fault", ["slow", "drop"])
def test_an_uncertain_write_is_read_back_never_sent_twice(cx: ConnexcsStandIn, tmp_path: Path, fault: str) -> None:
    with configure(cx, tmp_path, timeout_seconds=0.3) as provider:
        cx.fail("POST", "customer", fault)
        provider.create("acme", usd(name="Acme"), AUDIT)
        cx.fail("PUT", "customer/1", fault)
        provider.update("acme", usd(name="Acme", channels=4), 1, AUDIT)
        cx.fail("DELETE", "customer/1", fault)
        provider.delete("acme", 2, AUDIT)
        assert [len(sent(cx, method, path)) for method, path in (
            ("POST", "customer"), ("PUT", "customer/1"), ("DELETE", "customer/1"))] == [1, 1, 1]
        assert provider.read() == {}
        assert [record.action for record in provider.read_audit("acme") if record.field != "currency"] == [
            "delete", "update", "create",
        ]


def test_a_create_refused_after_an_attempt_that_took_effect_is_found_by_name(tmp_path: Path, time: FakeTime) -> None:
    created: list[dict[str, Any]] = []
    posts: list[int] = []

    def platform(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(1)
            if not created:  # the platform acts, and a proxy in front of it answers 502
                created.append({"id": 7, **json.loads(request.content)})
                return httpx.Response(502, text="<html>Bad Gateway</html>", headers={"Content-Type": "text/html"})
            return httpx.Response(409, json={"error": "A customer with this name already exists"})
        return httpx.Response(200, json=created if request.url.params.get("name") == "Acme" else [])

    provider = ConnexcsProvider.from_options(
        {"url": "https://cx.example/api/cp/"}, environ=CONNEXCS_ENVIRON, root=tmp_path,
        transport=httpx.MockTransport(platform), sleep=time.sleep, clock=time.clock,
    )
    with provider:
        assert provider.create("acme", usd(name="Acme"), AUDIT).version == 1
        assert (len(posts), provider.state.binding("acme").live_id) == (2, "7")  # type: ignore[union-attr]


def test_a_timed_out_put_is_read_back_not_repeated(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    with configure(cx, tmp_path, timeout_seconds=0.3) as provider:
        provider.create("acme", usd(), AUDIT)
        cx.fail("PUT", "customer/1", "slow")
        assert provider.update("acme", usd(channels=9), 1, AUDIT).version == 2
        assert len(sent(cx, "PUT", "customer/1")) == 1
        assert provider.read()["acme"].version == 2
        assert [record.field for record in provider.read_audit("acme", limit=1)] == ["channels"]


def test_a_dropped_create_is_looked_up_by_name_not_repeated(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    with configure(cx, tmp_path) as provider:
        cx.fail("POST", "customer", "drop")
        assert provider.create("acme", usd(name="Acme Telecom"), AUDIT).version == 1
        assert len(sent(cx, "POST")) == 1
        assert [request.query.get("name") for request in sent(cx, "GET")] == ["Acme Telecom"]  # one look, by name
        assert provider.read()["acme"].managed is True
    assert [record["name"] for record in cx.records()] == ["Acme Telecom"]


def test_a_dropped_delete_is_read_back_not_repeated(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    with configure(cx, tmp_path) as provider:
        provider.create("acme", usd(), AUDIT)
        cx.fail("DELETE", "customer/1", "drop")
        provider.delete("acme", 1, AUDIT)
        assert (len(sent(cx, "DELETE", "customer/1")), provider.read()) == (1, {})


def test_a_timed_out_read_is_simply_asked_again(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    with configure(cx, tmp_path, timeout_seconds=0.3) as provider:
        cx.fail("GET", "customer", "slow")
        assert provider.read() == {}
    assert len(sent(cx, "GET")) == 2


# --- apply: many writes at once, a failure in the middle ----------------------------------------


def _plan(provider: ConnexcsProvider, desired: dict[str, Customer]) -> Any:
    context = PlanContext(at=START, commit="8d41c0b", dirty=False, provider=provider.describe(), allow_bulk=True)
    return compute_plan(desired, provider.read(), context)


def _apply(provider: ConnexcsProvider, plan: Any, time: FakeTime) -> Any:
    lock = LockPolicy("ci", dt.timedelta(minutes=5), dt.timedelta(seconds=1), time.clock, time.sleep)
    return apply_plan(plan, provider, AuditContext("ci", plan.commit, plan.plan_id), lock, batch_size=3)


def test_apply_writes_at_once_and_reports_in_plan_order(provider: ConnexcsProvider, cx: ConnexcsStandIn, time: FakeTime) -> None:
    assert provider.write_concurrency == 4
    desired = {f"c{number:02}": usd(channels=number) for number in range(10)}
    cx.latency = 0.05
    report = _apply(provider, _plan(provider, desired), time)
    assert [result.key for result in report.results] == sorted(desired)
    assert report.counts()["applied"] == 10
    assert cx.connections > 1  # several writes were in flight at once
    cx.latency = 0
    assert _plan(provider, desired).empty


def test_an_access_token_expiring_mid_apply_is_refreshed_once(cx: ConnexcsStandIn, tmp_path: Path, time: FakeTime) -> None:
    with configure(cx, tmp_path, time, auth="jwt") as provider:
        desired = {f"c{number:02}": usd(channels=number) for number in range(12)}
        plan = _plan(provider, desired)
        cx.latency = 0.02
        finished: list[str] = []

        def progress(done: int, total: int, result: Any) -> None:
            finished.append(result.key)
            if done == 3:
                cx.expire_access_tokens()  # writes in flight now meet a 401

        lock = LockPolicy("ci", dt.timedelta(minutes=5), dt.timedelta(seconds=1), time.clock, time.sleep)
        report = apply_plan(plan, provider, AUDIT, lock, progress=progress)
        assert report.counts()["applied"] == 12 and len(finished) == 12
    assert len(sent(cx, "GET", "auth/jwt")) == 2  # the first access token, and one refresh
    assert len(sent(cx, "POST", "auth/jwt/refresh")) == 1


def test_a_500_in_the_middle_of_an_apply(cx: ConnexcsStandIn, tmp_path: Path, time: FakeTime) -> None:
    # No retry budget: the first 500 leaves the platform "unavailable" for this apply.
    with configure(cx, tmp_path, time, write_concurrency=1, retry_budget_seconds=0) as provider:
        first = {f"c{number}": usd(channels=1) for number in range(5)}
        _apply(provider, _plan(provider, first), time)
        wanted = {key: usd(channels=2) for key in first}
        cx.fail("PUT", "customer/3", "500")
        report = _apply(provider, _plan(provider, wanted), time)
        assert [(result.key, result.status) for result in report.results] == [
            ("c0", "applied"), ("c1", "applied"), ("c2", "failed"), ("c3", "not_attempted"),
            ("c4", "not_attempted"),
        ]
        assert report.results[2].message == (
            "c2: PUT customer/3 answered 500 Internal Server Error after 1 attempt in 0.0 s; the retry budget of "
            "0 s (live.options.retry_budget_seconds) is spent: the platform is rate limiting or unavailable; try "
            "again later"
        )
        assert {record.key for record in provider.read_audit() if record.action == "update"} == {"c0", "c1"}
        assert [record.field for record in provider.state.read_audit("c2", results=("failed",))] == ["channels"]
        # The platform is back: a rerun applies the rest, and nothing twice.
        cx.requests.clear()
        again = _apply(provider, _plan(provider, wanted), time)
        assert [(result.key, result.status) for result in again.results] == [
            ("c2", "applied"), ("c3", "applied"), ("c4", "applied"),
        ]
        assert [request.path for request in cx.requests if request.method == "PUT"] == [
            "customer/3", "customer/4", "customer/5",
        ]
        assert _plan(provider, wanted).empty
        assert [record.action for record in provider.read_audit("c0") if record.action == "update"] == ["update"]


# --- secrets -----------------------------------------------------------------------------------


def test_no_credential_in_anything_the_provider_shows(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    environ = {**CONNEXCS_ENVIRON, "RECONCILER_CONNEXCS_TOKEN": TOKEN}
    shown: list[str] = []
    for number, options in enumerate(({}, {"auth": "jwt"}, {"auth": "token"})):
        with configure(cx, tmp_path, environ=environ, retry_budget_seconds=0, **options) as provider:
            shown += [repr(provider), str(provider.describe()), repr(provider.state.shown)]
            provider.create(f"acme-{number}", usd(), AUDIT)
            for fault in ("401", "500", "html", "truncated"):
                cx.fail("*", "customer", fault, times=2)
                while cx.pending_faults():
                    try:
                        provider.read()
                    except ProviderError as exc:
                        shown += [str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)]
            shown += [repr(provider.read_audit()), repr(provider.read()), repr(provider.check_mapping())]
    engine = create_engine(f"sqlite:///{tmp_path / '.reconciler/state.sqlite'}")
    with engine.connect() as connection:
        for table in ("state_binding", "state_audit", "state_lease", "state_meta"):
            shown.append(repr(connection.execute(text(f"SELECT * FROM {table}")).all()))
    engine.dispose()
    shown.append(repr(cx.requests))
    assert len(shown) > 20
    for secret in (CONNEXCS_PASSWORD, TOKEN):
        assert not [line for line in shown if secret in line]


# --- the state store ---------------------------------------------------------------------------


@pytest.mark.postgresql
def test_the_state_store_may_be_postgresql(cx: ConnexcsStandIn, tmp_path: Path, postgres_database: str) -> None:
    config = ProviderConfig(state={"provider": "postgresql", "url_env": "STATE_DB"})
    environ = {**CONNEXCS_ENVIRON, "STATE_DB": postgres_database}
    with configure(cx, tmp_path, config=config, environ=environ) as provider:
        assert provider.open().created
        provider.create("acme", usd(), AUDIT)
        lease = provider.acquire_lock("alice@ci", dt.timedelta(minutes=5))
        target = provider.describe().target
    assert target.startswith(f"connexcs {cx.url} (state: postgresql postgresql+psycopg://postgres@/test_")
    assert SECRET not in target
    with configure(cx, tmp_path, config=config, environ=environ) as other:
        assert other.lock_status() == lease
        assert other.read()["acme"].managed is True
    assert not (tmp_path / ".reconciler").exists()


@pytest.mark.parametrize(
    ("state", "environ", "message"),
    [
        ({"provider": "sqlite", "url_env": "X"}, {}, "state.url_env: a sqlite state store has no setting 'url_env'; "
                                                      "its setting: path"),
        ({"provider": "postgresql"}, {}, "state.url_env: the environment variable RECONCILER_DATABASE_URL is not set; "
                                         "set it to the database URL (postgresql+psycopg://USER:PASSWORD@HOST:PORT/"
                                         "DATABASE)"),
        ({"provider": "mysql"}, {}, "state.provider: expected sqlite or postgresql, got 'mysql'"),
    ],
)
def test_a_wrong_state_setting_is_a_config_error(
    cx: ConnexcsStandIn, tmp_path: Path, state: dict[str, str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        configure(cx, tmp_path, config=ProviderConfig(state=state), environ={**CONNEXCS_ENVIRON, **environ})
    assert str(caught.value) == message


def test_the_state_store_goes_where_state_path_says(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    with configure(cx, tmp_path, config=ProviderConfig(state={"path": "var/state.db"})) as provider:
        assert provider.describe().target.endswith("(state: sqlite var/state.db)")
        provider.read()
    assert (tmp_path / "var/state.db").is_file()


def test_a_state_store_newer_than_the_code_is_refused(provider: ConnexcsProvider, tmp_path: Path) -> None:
    provider.open()
    engine = create_engine(f"sqlite:///{tmp_path / '.reconciler/state.sqlite'}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE state_meta SET schema_version = 99"))
    engine.dispose()
    with configure_again(provider, tmp_path) as other, pytest.raises(ProviderError) as caught:
        other.read_audit()
    assert str(caught.value) == (
        f"the state store is at schema version 99, newer than this reconciler knows ({STATE_SCHEMA_VERSION}); "
        "upgrade reconciler"
    )


def configure_again(provider: ConnexcsProvider, root: Path) -> ConnexcsProvider:
    url = provider.describe().target.split()[1]
    return ConnexcsProvider.from_options({"url": url}, environ=CONNEXCS_ENVIRON, root=root)


@pytest.mark.parametrize("name", ["sqlite", "postgresql"])
def test_the_sql_stores_refuse_what_only_an_api_provider_uses(name: str) -> None:
    environ = {"RECONCILER_DATABASE_URL": "postgresql://db/live"}
    for config, section in [
        (ProviderConfig(state={"provider": "sqlite"}), "[state]"),
        (ProviderConfig(mapping={"channels": "ch"}), "[live.mapping]"),
        (ProviderConfig(account_manager_ids={"Dana": 1}), "[live.account_manager_ids]"),
    ]:
        with pytest.raises(ConfigError) as caught:
            create_provider(name, {}, environ=environ, root=Path("."), config=config)
        assert str(caught.value).startswith(f"{section}: the {name} provider ")


# --- the listing begun while the fleet loads --------------------------------------------------


def test_the_listing_begins_before_the_plan_asks_for_it(provider: ConnexcsProvider, cx: ConnexcsStandIn) -> None:
    """`start_read_differing`: the pages are asked for at once, on a thread of their own
    (the wait is the network's), and the answer is the listing's."""
    provider.create("acme", usd(channels=4), AUDIT)
    asked = len(sent(cx, "GET"))
    finish = provider.start_read_differing()
    for _ in range(500):  # the listing goes out without anyone waiting for it
        if len(sent(cx, "GET")) > asked:
            break
        threading.Event().wait(0.01)  # a pause: `time` here is the fake clock
    assert len(sent(cx, "GET")) > asked
    read = finish({})
    assert read.in_sync == frozenset() and read.records["acme"].customer == usd(channels=4)


def test_a_listing_begun_early_that_fails_is_reported_when_the_plan_asks_for_it(
    cx: ConnexcsStandIn, tmp_path: Path
) -> None:
    with configure(cx, tmp_path, retry_budget_seconds=0) as provider:
        cx.fail("GET", "customer", "html")
        finish = provider.start_read_differing()
        with pytest.raises(ProviderError) as caught:
            finish({})
    assert str(caught.value).startswith("GET customer answered 502 Bad Gateway (an HTML page, not the API's JSON)")


def test_a_listing_never_asked_for_ends_before_the_provider_closes(cx: ConnexcsStandIn, tmp_path: Path) -> None:
    with configure(cx, tmp_path) as provider:
        provider.create("acme", usd(channels=4), AUDIT)
        provider.start_read_differing()
    assert [thread.name for thread in threading.enumerate() if thread.name.startswith("reconciler-listing")] == []


def test_a_value_nested_deeply_makes_that_customer_unreadable_and_no_other(
    provider: ConnexcsProvider, cx: ConnexcsStandIn
) -> None:
    deep: list[object] = []
    for _ in range(250):  # as deep as the stand-in copies what it keeps
        deep = [deep]
    cx.seed({"name": "Good", "currency": "USD", "status": "Active", "channels": "40"})
    cx.seed({"name": "Odd", "currency": "USD", "status": "Active", "tags": deep})
    live = provider.read()
    good, odd = live["good"], live["odd"]
    assert isinstance(good, LiveCustomer) and good.customer.channels == 40
    assert isinstance(odd, UnreadableCustomer)
    assert [(problem.field, problem.value) for problem in odd.problems] == [("config.tags[0]", "[" * 57 + "...")]


def test_the_platforms_words_are_shown_escaped() -> None:
    """An answer's `error` is quoted in the message: what a terminal would act on is escaped."""
    shown = _status_text(Answer(400, {"error": "Currency \x1b]0;owned\x07 cannot change"}))
    assert shown == "400 Bad Request: Currency \\x1b]0;owned\\x07 cannot change"


def test_text_that_is_no_character_makes_that_customer_unreadable_and_no_other(
    provider: ConnexcsProvider, cx: ConnexcsStandIn
) -> None:
    """JSON may escape half of a surrogate pair ("\\ud800"), which is no character: a record
    holding one is unreadable, and the others are read (it was a UnicodeEncodeError and a
    traceback, from the digest of the unreadable record's values)."""
    cx.seed({"name": "Good", "currency": "USD", "status": "Active", "channels": "40"})
    cx.seed({"name": "Odd\ud800", "currency": "USD", "status": "Active", "tags": ["a\udcff"]})
    live = provider.read()
    good, odd = live["good"], live["odd"]
    assert isinstance(good, LiveCustomer) and good.customer.channels == 40
    assert isinstance(odd, UnreadableCustomer)
    assert [(problem.field, problem.value) for problem in odd.problems] == [
        ("name", "'Odd\\ud800'"), ("config.tags[0]", "'a\\udcff'"),
    ]


def test_an_id_is_a_number_or_a_token_never_a_path_or_an_escape() -> None:
    """A live id goes into the API's paths and into messages: text that would climb out of a
    path or move a terminal is no id (the listing then refuses the page)."""
    assert [record_id({"id": value}) for value in (17, "17", "a1b2-c3_d4")] == ["17", "17", "a1b2-c3_d4"]
    for value in ("../../admin", "7/../8", "7\x1b[2J", "", "x" * 65, True, None, 1.5, ["7"]):
        assert record_id({"id": value}) is None, value


def test_a_listing_with_an_id_that_is_no_id_is_refused_in_one_line(
    provider: ConnexcsProvider, cx: ConnexcsStandIn
) -> None:
    """The platform answers a record whose id would climb out of the API's paths: the page is
    refused, as one without an id is; nothing is written."""
    live = cx.seed({"name": "Good", "currency": "USD", "status": "Active", "channels": "40"})
    with cx._lock:  # a platform gone wrong: no API call of the stand-in's changes an id
        cx._customers[live]["id"] = "../../admin"
    with pytest.raises(ProviderError) as caught:
        provider.read()
    assert str(caught.value) == (
        "GET customer (rows from 0) answered a customer without an id (a whole number, or letters, digits, "
        "'-' and '_')"
    )
    assert [request.method for request in cx.requests if request.method != "GET"] == []


@pytest.mark.parametrize(
    "held",
    ['[' * 100_000 + ']' * 100_000, "not json {", '["a", "list"]', '"text"'],
    ids=["nested past Python's limit", "not JSON", "a list", "a string"],
)
def test_a_form_last_applied_that_is_not_a_document_is_as_none(
    provider: ConnexcsProvider, cx: ConnexcsStandIn, tmp_path: Path, held: str
) -> None:
    """The state store is input too: a form last applied that someone wrote by hand, and
    that is no document (nested deeper than Python reads, not JSON, not a map), is as if
    none had been applied; the customer is read, and the next write sets it again."""
    provider.create("acme", usd(channels=7, renamed_from=["acme-old"]), AUDIT)
    engine = create_engine(f"sqlite:///{tmp_path / '.reconciler/state.sqlite'}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE state_binding SET last_applied = :held"), {"held": held})
    engine.dispose()
    assert provider.state.binding("acme").last_applied is None  # type: ignore[union-attr]
    live = provider.read()["acme"]
    assert live.customer == usd(channels=7)  # the earlier keys are the reconciler's alone: unknown now
    provider.update("acme", usd(channels=7, renamed_from=["acme-old"]), live.version, AUDIT)
    assert provider.read()["acme"].customer == usd(channels=7, renamed_from=["acme-old"])
