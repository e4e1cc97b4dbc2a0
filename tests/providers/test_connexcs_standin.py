"""The ConnexCS stand-in itself, driven with httpx over real HTTP on loopback."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from connexcs_standin import ConnexcsStandIn

USER = "api-user"
PASSWORD = "api-Pa55word-secret"
LONG_LIVED = "panel-minted-long-lived-token"


def new_client(url: str, **options: Any) -> httpx.Client:
    """An httpx client for plain HTTP on loopback: verify=False only spares building a TLS
    context (~70 ms a client), which plain HTTP never uses."""
    options.setdefault("timeout", 5.0)
    return httpx.Client(base_url=url, verify=False, **options)


@pytest.fixture
def cx() -> Iterator[ConnexcsStandIn]:
    with ConnexcsStandIn(long_lived_token=LONG_LIVED, max_page=3, slow_seconds=0.4) as standin:
        yield standin
    assert standin.errors == []


@pytest.fixture
def client(cx: ConnexcsStandIn) -> Iterator[httpx.Client]:
    with new_client(cx.url, auth=(USER, PASSWORD)) as c:
        yield c


@pytest.fixture
def anon(cx: ConnexcsStandIn) -> Iterator[httpx.Client]:
    """A client with no credentials of its own."""
    with new_client(cx.url) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refresh_token(anon: httpx.Client, lifetime: float = 3600) -> str:
    r = anon.post(
        "auth/jwt/refresh", json={"lifetime": lifetime, "audience": "reconciler"}, auth=(USER, PASSWORD)
    )
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    assert isinstance(token, str) and token
    return token


def access_token(anon: httpx.Client, refresh: str) -> str:
    r = anon.get("auth/jwt", headers=bearer(refresh))
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    assert isinstance(token, str) and token
    return token


# -- server basics ------------------------------------------------------------------------


def test_url_is_loopback_under_api_cp(cx: ConnexcsStandIn) -> None:
    assert cx.url.startswith("http://127.0.0.1:")
    assert cx.url.endswith("/api/cp/")


def test_keep_alive_reuses_one_connection_and_sends_content_length(
    cx: ConnexcsStandIn, client: httpx.Client
) -> None:
    for _ in range(5):
        r = client.get("customer")
        assert r.status_code == 200
        assert r.headers["content-length"] == str(len(r.content))
    assert cx.connections == 1


def test_the_server_stops_on_exit() -> None:
    with ConnexcsStandIn() as cx, new_client(cx.url, auth=(USER, PASSWORD), timeout=1.0) as c:
        assert c.get("customer").status_code == 200
        cx.__exit__(None, None, None)
        with pytest.raises(httpx.TransportError):
            c.get("customer")


def test_unknown_paths_and_methods(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    r = client.get("carrier")
    assert (r.status_code, r.json()) == (404, {"error": "Not found"})
    r = client.get(cx.url.replace("/api/cp/", "/elsewhere"))
    assert r.status_code == 404
    r = client.patch("customer", json={})
    assert (r.status_code, r.json()) == (405, {"error": "Method not allowed"})


# -- authentication -----------------------------------------------------------------------


def test_basic_auth_works(client: httpx.Client) -> None:
    r = client.get("customer")
    assert (r.status_code, r.json()) == (200, [])


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + base64.b64encode(b"api-user:wrong").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"someone:" + PASSWORD.encode()).decode()},
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer made-up"},
        {"Authorization": "Token " + LONG_LIVED},
    ],
    ids=["none", "bad-password", "bad-user", "garbled", "unknown-bearer", "other-scheme"],
)
def test_bad_or_missing_credentials_are_401(anon: httpx.Client, headers: dict[str, str]) -> None:
    for call in (
        lambda: anon.get("customer", headers=headers),
        lambda: anon.get("customer/1", headers=headers),
        lambda: anon.post("customer", json={"name": "X"}, headers=headers),
        lambda: anon.put("customer/1", json={}, headers=headers),
        lambda: anon.delete("customer/1", headers=headers),
    ):
        r = call()
        assert (r.status_code, r.json()) == (401, {"error": "Unauthorized"})


def test_jwt_flow(anon: httpx.Client, cx: ConnexcsStandIn) -> None:
    refresh = refresh_token(anon)
    access = access_token(anon, refresh)
    r = anon.post("customer", json={"name": "Acme"}, headers=bearer(access))
    assert r.status_code == 200
    assert anon.get("customer", headers=bearer(access)).json()[0]["name"] == "Acme"

    cx.expire_access_tokens()
    r = anon.get("customer", headers=bearer(access))
    assert (r.status_code, r.json()) == (401, {"error": "Token expired"})

    fresh = access_token(anon, refresh)
    assert fresh != access
    assert anon.get("customer/1", headers=bearer(fresh)).status_code == 200


def test_refresh_needs_basic_auth_and_a_lifetime(anon: httpx.Client) -> None:
    r = anon.post("auth/jwt/refresh", json={"lifetime": 60, "audience": "x"})
    assert (r.status_code, r.json()) == (401, {"error": "Unauthorized"})
    r = anon.post("auth/jwt/refresh", json={"lifetime": 60}, auth=(USER, "wrong"))
    assert r.status_code == 401
    r = anon.post("auth/jwt/refresh", json={"audience": "x"}, auth=(USER, PASSWORD))
    assert r.status_code == 400
    r = anon.post("auth/jwt/refresh", json={"lifetime": -1}, auth=(USER, PASSWORD))
    assert r.status_code == 400
    r = anon.post("auth/jwt/refresh", content=b"{nope", auth=(USER, PASSWORD))
    assert r.status_code == 400


def test_tokens_are_not_interchangeable(anon: httpx.Client) -> None:
    refresh = refresh_token(anon)
    access = access_token(anon, refresh)
    r = anon.get("customer", headers=bearer(refresh))
    assert (r.status_code, r.json()) == (401, {"error": "Unauthorized"})
    r = anon.get("auth/jwt", headers=bearer(access))
    assert (r.status_code, r.json()) == (401, {"error": "Unauthorized"})
    r = anon.get("auth/jwt", headers=bearer("made-up"))
    assert r.status_code == 401
    r = anon.get("auth/jwt", auth=(USER, PASSWORD))
    assert r.status_code == 401


def test_a_refresh_token_lives_its_lifetime(anon: httpx.Client, cx: ConnexcsStandIn) -> None:
    short = refresh_token(anon, lifetime=0.05)
    long = refresh_token(anon)
    time.sleep(0.1)
    r = anon.get("auth/jwt", headers=bearer(short))
    assert (r.status_code, r.json()) == (401, {"error": "Token expired"})
    access_token(anon, long)
    cx.expire_refresh_tokens()
    assert anon.get("auth/jwt", headers=bearer(long)).status_code == 401


def test_an_access_token_lives_access_ttl() -> None:
    with (
        ConnexcsStandIn(access_ttl=0.2) as cx,
        new_client(cx.url) as anon,
    ):
        access = access_token(anon, refresh_token(anon))
        assert anon.get("customer", headers=bearer(access)).status_code == 200
        time.sleep(0.25)
        r = anon.get("customer", headers=bearer(access))
        assert (r.status_code, r.json()) == (401, {"error": "Token expired"})


def test_long_lived_token(anon: httpx.Client, cx: ConnexcsStandIn) -> None:
    r = anon.post("customer", json={"name": "Acme"}, headers=bearer(LONG_LIVED))
    assert r.status_code == 200
    cx.expire_access_tokens()
    cx.expire_refresh_tokens()
    assert anon.get("customer/1", headers=bearer(LONG_LIVED)).status_code == 200
    # It can also be exchanged for an access token.
    access = access_token(anon, LONG_LIVED)
    assert anon.get("customer", headers=bearer(access)).status_code == 200


def test_no_long_lived_token_unless_configured() -> None:
    with ConnexcsStandIn() as cx, new_client(cx.url) as c:
        assert c.get("customer", headers=bearer(LONG_LIVED)).status_code == 401


# -- listing and paging -------------------------------------------------------------------


def ids(rows: Any) -> list[int]:
    assert isinstance(rows, list)
    return [row["id"] for row in rows]


def test_paging_returns_at_most_max_page_rows(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    for n in range(7):
        cx.seed({"name": f"C{n}"})

    def page(**params: int) -> list[int]:
        r = client.get("customer", params=params)
        assert r.status_code == 200
        return ids(r.json())

    assert page(_startRow=0, _endRow=100) == [1, 2, 3]  # max_page is 3
    assert page() == [1, 2, 3]
    assert page(_startRow=3) == [4, 5, 6]
    assert page(_startRow=6, _endRow=9) == [7]
    assert page(_startRow=7, _endRow=10) == []
    assert page(_startRow=100) == []
    assert page(_startRow=1, _endRow=3) == [2, 3]
    assert page(_startRow=4, _endRow=4) == []
    r = client.get("customer", params={"_startRow": "x"})
    assert r.status_code == 400
    r = client.get("customer", params={"_startRow": -1})
    assert r.status_code == 400


def test_filters_compare_as_strings_before_paging(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    cx.seed({"name": "Acme", "tier": 1, "active": True})
    for n in range(5):
        cx.seed({"name": f"Other {n}", "tier": 2, "active": False})
    cx.seed({"name": "Zed", "tier": 2, "active": True, "note": None})

    def rows(**params: str | int) -> list[int]:
        return ids(client.get("customer", params=params).json())

    assert rows(name="Acme") == [1]
    assert rows(name="acme") == []
    assert rows(tier="1") == [1]
    assert rows(tier=2, _startRow=0, _endRow=10) == [2, 3, 4]
    assert rows(tier=2, _startRow=3) == [5, 6, 7]
    assert rows(active="true", tier="2") == [7]
    assert rows(note="null") == [7]
    assert rows(missing="x") == []


# -- create, read, update, delete ---------------------------------------------------------


def test_create_returns_the_id_and_read_only_fields(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    r = client.post(
        "customer",
        json={
            "name": "Acme",
            "currency": "USD",
            "credit_limit": 100,
            "rate": 0.25,
            "account_number": "00123",
            "invoice_email": None,
            "credit": "999.00",
            "ips": ["10.0.0.1"],
            "id": 77,
        },
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    record = r.json()
    assert record == {
        "id": 1,
        "name": "Acme",
        "currency": "USD",
        "credit_limit": 100,
        "rate": 0.25,
        "account_number": "00123",
        "invoice_email": None,
        "credit": "0.00",
        "last_call": None,
        "ips": [],
        "sip_users": [],
        "cards": [],
        "contact_name": None,
        "portal_theme": "default",
    }
    assert client.get("customer/1").json() == record
    assert cx.records() == [record]
    assert client.post("customer", json={"name": "Beta"}).json()["id"] == 2


def test_portal_theme_is_writable(client: httpx.Client) -> None:
    r = client.post("customer", json={"name": "Acme", "portal_theme": "dark"})
    assert r.json()["portal_theme"] == "dark"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "name is required"),
        ({"name": None}, 400, "name is required"),
        ({"name": "  "}, 400, "name is required"),
        ({"name": 5}, 400, "name must be a string"),
        ([{"name": "A"}], 400, "Body must be a JSON object"),
    ],
)
def test_create_refusals(client: httpx.Client, cx: ConnexcsStandIn, body: Any, status: int, message: str) -> None:
    r = client.post("customer", json=body)
    assert (r.status_code, r.json()) == (status, {"error": message})
    assert cx.records() == []


def test_invalid_json_is_400(client: httpx.Client) -> None:
    r = client.post("customer", content=b'{"name": ', headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()) == (400, {"error": "Invalid JSON body"})


def test_a_chunked_body_is_read(client: httpx.Client) -> None:
    r = client.post("customer", content=iter([b'{"name": ', b'"Chunked"}']))
    assert r.status_code == 200
    assert r.json()["name"] == "Chunked"


def test_get_unknown_customer_is_404(client: httpx.Client) -> None:
    for path in ("customer/1", "customer/abc", "customer/-1"):
        r = client.get(path)
        assert (r.status_code, r.json()) == (404, {"error": "Customer not found"})


def test_put_changes_only_the_fields_sent(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    cid = client.post("customer", json={"name": "Acme", "currency": "USD", "email": "a@x.test"}).json()["id"]
    cx.edit(cid, credit="12.50")
    r = client.put(
        f"customer/{cid}",
        json={"email": "b@x.test", "limit": 5, "brand_new_field": "kept", "credit": "0", "id": 9},
    )
    assert r.status_code == 200
    assert r.json() == {
        "id": cid,
        "name": "Acme",
        "currency": "USD",
        "email": "b@x.test",
        "limit": 5,
        "brand_new_field": "kept",
        "credit": "12.50",
        "last_call": None,
        "ips": [],
        "sip_users": [],
        "cards": [],
        "contact_name": None,
        "portal_theme": "default",
    }
    assert cx.records() == [r.json()]


def test_put_unknown_id_is_404(client: httpx.Client) -> None:
    r = client.put("customer/5", json={"email": "x@y.test"})
    assert (r.status_code, r.json()) == (404, {"error": "Customer not found"})


def test_currency_cannot_change_once_set(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    client.post("customer", json={"name": "Acme", "currency": "USD"})
    r = client.put("customer/1", json={"currency": "EUR", "email": "x@y.test"})
    assert (r.status_code, r.json()) == (400, {"message": "Currency cannot be changed once set"})
    assert "email" not in cx.records()[0]
    assert client.put("customer/1", json={"currency": "USD"}).status_code == 200
    # Not set yet: it can be set.
    client.post("customer", json={"name": "Beta"})
    r = client.put("customer/2", json={"currency": "GBP"})
    assert (r.status_code, r.json()["currency"]) == (200, "GBP")


def test_duplicate_names_are_409(client: httpx.Client) -> None:
    assert client.post("customer", json={"name": "Acme"}).status_code == 200
    assert client.post("customer", json={"name": "Beta"}).status_code == 200
    r = client.post("customer", json={"name": "ACME"})
    assert (r.status_code, r.json()) == (409, {"error": "A customer with this name already exists"})
    r = client.put("customer/2", json={"name": "acme"})
    assert r.status_code == 409
    assert client.put("customer/1", json={"name": "ACME"}).status_code == 200  # itself


def test_delete(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    client.post("customer", json={"name": "Acme"})
    r = client.delete("customer/1")
    assert (r.status_code, r.json()) == (200, {"success": True})
    assert client.get("customer/1").status_code == 404
    r = client.delete("customer/1")
    assert (r.status_code, r.json()) == (404, {"error": "Customer not found"})
    assert client.post("customer", json={"name": "Acme"}).json()["id"] == 2  # ids not reused
    assert ids(cx.records()) == [2]


def test_seed_and_edit_bypass_the_rules(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    hostile = {"name": "Robert'); DROP TABLE customers;--", "currency": "ÉUR", "credit": "-5.00", "x": [1, {"y": None}]}
    a = cx.seed(hostile)
    b = cx.seed({"name": "robert'); drop table customers;--"})  # a duplicate, seeded anyway
    c = cx.seed({"id": 10, "name": 42})
    assert (a, b, c) == (1, 2, 10)
    assert client.post("customer", json={"name": "Next"}).json()["id"] == 11
    got = client.get("customer/1").json()
    assert got["name"] == hostile["name"] and got["credit"] == "-5.00" and got["x"] == [1, {"y": None}]
    assert got["portal_theme"] == "default"
    with pytest.raises(ValueError):
        cx.seed({"id": 10})
    cx.edit(1, currency="GBP", last_call="2024-01-01 00:00:00")
    assert client.get("customer/1").json()["currency"] == "GBP"
    with pytest.raises(KeyError):
        cx.edit(99, name="x")
    records = cx.records()
    records[0]["name"] = "changed"
    assert cx.records()[0]["name"] == hostile["name"]


# -- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "body"),
    [
        ("401", 401, {"error": "Unauthorized"}),
        ("404", 404, {"error": "Not found"}),
        ("429", 429, {"error": "Too Many Requests"}),
        ("500", 500, {"error": "Internal Server Error"}),
    ],
)
def test_json_error_faults_are_not_applied(
    client: httpx.Client, cx: ConnexcsStandIn, fault: str, status: int, body: dict[str, str]
) -> None:
    cx.fail("POST", "customer", fault)
    r = client.post("customer", json={"name": "Acme"})
    assert (r.status_code, r.json()) == (status, body)
    assert "retry-after" not in r.headers
    assert cx.records() == []
    r = client.post("customer", json={"name": "Acme"})
    assert (r.status_code, r.json()["id"]) == (200, 1)


@pytest.mark.parametrize("retry_after", ["1", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_429_carries_retry_after_when_asked(client: httpx.Client, cx: ConnexcsStandIn, retry_after: str) -> None:
    cx.fail("GET", "customer", "429", retry_after=retry_after)
    r = client.get("customer")
    assert r.status_code == 429
    assert r.headers["retry-after"] == retry_after


def test_html_fault_is_a_502_page(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    cx.fail("PUT", "customer/", "html")
    client.post("customer", json={"name": "Acme"})
    r = client.put("customer/1", json={"email": "x@y.test"})
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("text/html")
    assert r.text == "<html><body><h1>502 Bad Gateway</h1></body></html>"
    with pytest.raises(json.JSONDecodeError):
        r.json()
    assert "email" not in cx.records()[0]


def test_truncated_fault_fails_to_decode(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    cx.seed({"name": "Acme"})
    cx.fail("GET", "customer", "truncated")
    r = client.get("customer")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.content == b'[{"id": 1, "na'
    with pytest.raises(json.JSONDecodeError):
        r.json()
    assert ids(client.get("customer").json()) == [1]


def test_drop_fault_is_a_protocol_error_after_the_write(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    cx.fail("POST", "customer", "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("customer", json={"name": "Acme"})
    assert [r["name"] for r in cx.records()] == ["Acme"]  # applied: the uncertain write
    # The client reconnects and carries on.
    assert ids(client.get("customer").json()) == [1]
    assert cx.connections == 2


def test_drop_fault_on_a_read(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    cx.seed({"name": "Acme"})
    cx.fail("GET", "customer/1", "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("customer/1")
    assert client.get("customer/1").status_code == 200


def test_slow_fault_times_out_but_the_write_takes_effect(cx: ConnexcsStandIn) -> None:
    cx.seed({"name": "Acme", "currency": "USD"})
    cx.fail("PUT", "customer/1", "slow")
    with new_client(cx.url, auth=(USER, PASSWORD), timeout=0.1) as quick:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            quick.put("customer/1", json={"email": "late@x.test"})
        assert time.monotonic() - started < cx.slow_seconds
        assert cx.records()[0]["email"] == "late@x.test"
        assert quick.get("customer/1").json()["email"] == "late@x.test"


def test_slow_fault_answers_normally_when_waited_for(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    cx.slow_seconds = 0.1
    cx.fail("POST", "customer", "slow")
    started = time.monotonic()
    r = client.post("customer", json={"name": "Acme"})
    assert time.monotonic() - started >= 0.1
    assert (r.status_code, r.json()["id"]) == (200, 1)


def test_fault_matching(client: httpx.Client, cx: ConnexcsStandIn) -> None:
    cx.seed({"name": "Acme"})
    cx.fail("get", "/customer/1", "500", times=2)
    cx.fail("*", "customer", "404")
    assert cx.pending_faults() == 3
    assert client.post("customer", json={"name": "B"}).status_code == 404  # "*" matched POST
    assert client.get("customer").status_code == 200  # "customer/1" is not a prefix of "customer"
    assert client.get("customer/1", params={"x": "1"}).status_code == 500  # query ignored
    assert client.get("customer/1").status_code == 500
    assert client.get("customer/1").status_code == 200
    assert cx.pending_faults() == 0
    with pytest.raises(ValueError):
        cx.fail("GET", "customer", "teapot")
    with pytest.raises(ValueError):
        cx.fail("GET", "customer", "500", retry_after="1")
    with pytest.raises(ValueError):
        cx.fail("GET", "customer", "500", times=0)


def test_a_401_fault_revokes_nothing(anon: httpx.Client, cx: ConnexcsStandIn) -> None:
    access = access_token(anon, refresh_token(anon))
    cx.fail("GET", "customer", "401")
    assert anon.get("customer", headers=bearer(access)).status_code == 401
    assert anon.get("customer", headers=bearer(access)).status_code == 200


def test_faults_hit_auth_endpoints_too(anon: httpx.Client, cx: ConnexcsStandIn) -> None:
    refresh = refresh_token(anon)
    cx.fail("GET", "auth/jwt", "500")
    assert anon.get("auth/jwt", headers=bearer(refresh)).status_code == 500
    access_token(anon, refresh)


def test_latency_is_added_to_every_request() -> None:
    with ConnexcsStandIn(latency=0.1) as cx, new_client(cx.url, auth=(USER, PASSWORD)) as c:
        started = time.monotonic()
        r = c.get("customer")
        assert r.status_code == 200
        assert time.monotonic() - started >= 0.1


# -- the request log ----------------------------------------------------------------------


def test_the_request_log(anon: httpx.Client, client: httpx.Client, cx: ConnexcsStandIn) -> None:
    refresh = refresh_token(anon)
    access = access_token(anon, refresh)
    client.post("customer", json={"name": "Acme"})
    anon.get("customer", params={"name": "Acme", "_startRow": 0}, headers=bearer(access))
    anon.get("customer", headers=bearer(LONG_LIVED))
    anon.get("customer")
    cx.fail("PUT", "customer", "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        client.put("customer/1", json={"email": "x@y.test"})

    logged = [(r.method, r.path, r.query, r.json, r.auth) for r in cx.requests]
    assert logged == [
        ("POST", "auth/jwt/refresh", {}, {"lifetime": 3600, "audience": "reconciler"}, "basic"),
        ("GET", "auth/jwt", {}, None, "bearer"),
        ("POST", "customer", {}, {"name": "Acme"}, "basic"),
        ("GET", "customer", {"name": "Acme", "_startRow": "0"}, None, "bearer"),
        ("GET", "customer", {}, None, "bearer"),
        ("GET", "customer", {}, None, "none"),
        ("PUT", "customer/1", {}, {"email": "x@y.test"}, "basic"),
    ]
    text = repr(cx.requests)
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, basic, refresh, access, LONG_LIVED):
        assert secret not in text
    with pytest.raises(AttributeError):
        cx.requests[0].method = "DELETE"  # type: ignore[misc]
