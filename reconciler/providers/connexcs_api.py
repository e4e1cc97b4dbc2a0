"""The ConnexCS control-panel REST API over HTTP: authentication, paging, retries, errors.

Built from ConnexCS's public documentation (and run against the stand-in in
tests/connexcs_standin.py), not verified against the real service:

- auth: HTTP Basic with a control-panel user; or a JWT, minted with
  `POST auth/jwt/refresh` (Basic) and exchanged at `GET auth/jwt` for short-lived access
  tokens; or a long-lived token minted in the panel, sent as it is. A 401 gets one fresh
  access token (JWT), then fails naming the variables that hold the credentials;
- `GET customer` pages AG-Grid style (`_startRow`, `_endRow`); the answer is a bare list,
  and a server may return fewer rows than asked, so only an empty page ends a listing;
- every call has a timeout; 429, 408, 5xx, and calls that got no answer are retried with
  exponential backoff and full jitter, honouring Retry-After, within a budget of seconds,
  after which `ProviderUnavailable` names the customer, the endpoint, the status and the
  budget;
- a write whose outcome is uncertain (sent, then no answer, a dropped connection or a
  cut-off body) is never blindly repeated: its `confirm` re-reads the platform first;
- messages name the endpoint as METHOD PATH (never the host's credentials), the status and
  the API's `error` or `message`; an HTML or cut-off body becomes one line saying so.

Thread-safe: one `httpx.Client` (its pool) serves every thread; tokens sit behind a lock.
"""

from __future__ import annotations

import base64
import email.utils
import json
import random
import re
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from typing import Any

import httpx

from reconciler.errors import ProviderError, ProviderUnavailable, escaped
from reconciler.providers.engines import hidden

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]
Jitter = Callable[[float, float], float]

BACKOFF_BASE = 0.25  # seconds before the first retry, at most (full jitter)
BACKOFF_CAP = 20.0  # the longest wait between two attempts, Retry-After aside
RETRIED = frozenset({408, 429})  # and every 5xx
_SHOWN = 200  # characters of an API's error message kept in ours


@dataclass(frozen=True)
class Answer:
    status: int
    payload: Any  # the JSON body (decimals as Decimal); None when there was none


@dataclass(frozen=True)
class Call:
    """One API call: METHOD PATH (relative to the API's URL), for CUSTOMER (None: no one)."""

    method: str
    path: str
    customer: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    # For a write: what the platform holds now says whether an uncertain attempt happened
    # (its answer then) or not (None: send it again).
    confirm: Callable[[], Answer | None] | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def who(self) -> str:
        return f"{self.customer}: " if self.customer else ""


class Auth:
    """How calls authenticate. Subclasses are thread-safe and never show their secrets."""

    def header(self, api: ConnexcsApi) -> str:
        raise NotImplementedError

    def renew(self, api: ConnexcsApi, used: str) -> bool:
        """After a 401 to a call made with USED: whether a fresh credential is worth a retry."""
        return False

    def where(self) -> str:
        """Where the credentials come from, for a message (variable names, never values)."""
        raise NotImplementedError


class HeaderAuth(Auth):
    """The same Authorization header on every call: HTTP Basic (`basic_auth`), or a long-lived
    token minted in the control panel, Setup, Integrations, JWT Keys (`token_auth`)."""

    def __init__(self, header: str, where: str, kind: str) -> None:
        self._header = header
        self._where = where
        self._kind = kind

    def header(self, api: ConnexcsApi) -> str:
        return self._header

    def where(self) -> str:
        return self._where

    def __repr__(self) -> str:
        return f"<{self._kind}>"  # never the header: it holds the credentials


def basic_auth(user: str, password: str, where: str) -> HeaderAuth:
    return HeaderAuth("Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii"), where, "BasicAuth")


def token_auth(token: str, where: str) -> HeaderAuth:
    return HeaderAuth(f"Bearer {token}", where, "TokenAuth")


class JwtAuth(Auth):
    """A refresh token minted with Basic auth, exchanged for short-lived access tokens."""

    def __init__(self, basic: HeaderAuth, *, lifetime: float, audience: str) -> None:
        self._basic = basic
        self._lifetime = lifetime
        self._audience = audience
        self._lock = threading.Lock()
        self._refresh: str | None = None
        self._access: str | None = None

    def header(self, api: ConnexcsApi) -> str:
        with self._lock:
            if self._access is None:
                self._access = self._mint(api)
            return f"Bearer {self._access}"

    def renew(self, api: ConnexcsApi, used: str) -> bool:
        with self._lock:
            if self._access is not None and f"Bearer {self._access}" != used:
                return True  # another thread renewed it meanwhile
            self._access = self._mint(api)
            return True

    def where(self) -> str:
        return self._basic.where()

    def _mint(self, api: ConnexcsApi) -> str:
        """A new access token; a new refresh token first when there is none or it expired."""
        if self._refresh is None:
            self._refresh = self._new_refresh(api)
        exchange = Call("GET", "auth/jwt")
        answer = api.call(exchange, authorization=f"Bearer {self._refresh}")
        if answer.status == 401:
            self._refresh = self._new_refresh(api)
            answer = api.call(exchange, authorization=f"Bearer {self._refresh}")
        return _token(api, exchange, answer, self.where())

    def _new_refresh(self, api: ConnexcsApi) -> str:
        mint = Call("POST", "auth/jwt/refresh", body={"lifetime": self._lifetime, "audience": self._audience})
        return _token(api, mint, api.call(mint, authorization=self._basic.header(api)), self.where())

    def __repr__(self) -> str:
        return "<JwtAuth>"


def _token(api: ConnexcsApi, call: Call, answer: Answer, where: str) -> str:
    token = answer.payload.get("token") if isinstance(answer.payload, dict) else None
    if answer.status == 200 and isinstance(token, str) and token:
        return token
    if answer.status == 401:
        raise ProviderError(
            f"{call.endpoint} answered {_status_text(answer)}: ConnexCS refused the credentials in {where}; check them"
        )
    raise ProviderError(f"{call.endpoint} answered {_status_text(answer)} without a token")


class ConnexcsApi:
    """Calls to one ConnexCS API (`base_url` ends in /api/cp/)."""

    def __init__(
        self,
        base_url: str,
        auth: Auth,
        *,
        timeout: float,
        retry_budget: float,
        page_size: int,
        verify: ssl.SSLContext | bool,
        max_connections: int,
        sleep: Sleep,
        clock: Clock,
        jitter: Jitter = random.uniform,
        secrets: Sequence[str] = (),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._auth = auth
        self._budget = retry_budget
        self.page_size = page_size
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._secrets = tuple(secret for secret in secrets if secret)
        self._settings: dict[str, Any] = {
            "base_url": base_url,
            "timeout": httpx.Timeout(timeout),
            "verify": verify,
            "limits": httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            "headers": {"Accept": "application/json", "User-Agent": "reconciler"},
            "follow_redirects": False,  # a redirect would carry the credentials to another host
            "transport": transport,
        }
        self._opening = threading.Lock()
        self._open: httpx.Client | None = None

    @property
    def _client(self) -> httpx.Client:
        """The connection pool, opened on first use (and again after `close`)."""
        with self._opening:
            if self._open is None:
                self._open = httpx.Client(**self._settings)
            return self._open

    def close(self) -> None:
        with self._opening:
            if self._open is not None:
                self._open.close()
            self._open = None

    # --- customers --------------------------------------------------------------------------

    def list_customers(self, filters: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Every customer (matching FILTERS, equality on fields), page by page until a page is
        empty, by id (a record listed twice while the listing moves is kept once)."""
        found: dict[str, dict[str, Any]] = {}
        start = 0
        while True:
            call = Call("GET", "customer", params={**(filters or {}), "_startRow": str(start),
                                                   "_endRow": str(start + self.page_size)})
            page = self._ok(call, self.call(call))
            if not isinstance(page, list):
                raise ProviderError(
                    f"{call.endpoint} answered a JSON {type(page).__name__}, not the list of customers; "
                    "check that live.options.url is the API's address, ending in /api/cp/"
                )
            if not page:
                return list(found.values())
            fresh = 0
            for row in page:
                live_id = record_id(row)
                if live_id is None:
                    raise ProviderError(
                        f"{call.endpoint} (rows from {start}) answered a customer without an id (a whole number, "
                        "or letters, digits, '-' and '_')"
                    )
                fresh += live_id not in found
                found[live_id] = row
            if not fresh:
                raise ProviderError(
                    f"{call.endpoint} answered rows {start} onwards with customers it listed already: "
                    "its paging does not move on (_startRow is ignored?)"
                )
            start += len(page)

    def first_customer(self) -> dict[str, Any] | None:
        call = Call("GET", "customer", params={"_startRow": "0", "_endRow": "1"})
        page = self._ok(call, self.call(call))
        return page[0] if isinstance(page, list) and page and isinstance(page[0], dict) else None

    def get_customer(self, live_id: str, *, customer: str | None = None) -> dict[str, Any] | None:
        """The customer of LIVE_ID; None when the platform has none (404)."""
        call = Call("GET", f"customer/{live_id}", customer)
        answer = self.call(call)
        if answer.status == 404:
            return None
        record = self._ok(call, answer)
        if not isinstance(record, dict):
            raise ProviderError(f"{call.who}{call.endpoint} answered a JSON {type(record).__name__}, not a customer")
        return record

    def create_customer(self, customer: str, body: Mapping[str, Any], *, name_field: str) -> dict[str, Any]:
        """POST the new customer; its record (with its `id`). An uncertain attempt is looked
        for by its name (`GET customer?name=...`) before it is sent again."""

        def confirm() -> Answer | None:
            # Names are unique on the platform: one page of the customers of that name says.
            name = body[name_field]
            look = Call("GET", "customer", customer, params={name_field: str(name), "_startRow": "0", "_endRow": "2"})
            page = self._ok(look, self.call(look))
            rows = [row for row in page if isinstance(row, dict) and row.get(name_field) == name] if isinstance(
                page, list) else []
            return Answer(200, rows[0]) if len(rows) == 1 else None

        call = Call("POST", "customer", customer, body=dict(body), confirm=confirm)
        record = self._written(call, self.call(call))
        if record_id(record) is None:
            raise ProviderError(f"{customer}: {call.endpoint} answered without the new customer's id")
        return record

    def update_customer(self, customer: str, live_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT the fields of BODY; the whole record after. An uncertain attempt is re-read:
        when the record holds BODY's values it happened."""

        def confirm() -> Answer | None:
            record = self.get_customer(live_id, customer=customer)
            if record is not None and all(_same_json(record.get(name), value) for name, value in body.items()):
                return Answer(200, record)
            return None

        call = Call("PUT", f"customer/{live_id}", customer, body=dict(body), confirm=confirm)
        return self._written(call, self.call(call))

    def delete_customer(self, customer: str, live_id: str) -> None:
        """DELETE the customer; an uncertain attempt is re-read (gone: it happened)."""

        def confirm() -> Answer | None:
            return Answer(200, None) if self.get_customer(live_id, customer=customer) is None else None

        call = Call("DELETE", f"customer/{live_id}", customer, confirm=confirm)
        answer = self.call(call)
        if answer.status == 404:
            return  # gone already: what a delete is for
        self._written(call, answer)

    # --- one call ---------------------------------------------------------------------------

    def call(self, call: Call, *, authorization: str | None = None) -> Answer:
        """Send CALL, retrying what is worth retrying within the budget; an answer the caller
        judges (2xx, or a refusal such as 400 or 404). AUTHORIZATION: a header of the
        caller's own (the token calls), whose 401 is the caller's too."""
        started = self._clock()
        deadline = started + timedelta(seconds=self._budget)
        attempts = 0
        renewed = False
        maybe_applied = False  # an earlier attempt may have taken effect
        while True:
            attempts += 1
            header = authorization or self._auth.header(self)
            try:
                response = self._send(call, header)
            except httpx.RequestError as exc:
                # Not connected: nothing was sent. Otherwise the platform may have acted on it.
                sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
                maybe_applied = maybe_applied or sent
                if call.confirm is not None and sent:
                    settled = call.confirm()
                    if settled is not None:
                        return settled
                self._wait(call, attempts, started, deadline, f"got no answer ({self._reason(exc)})", None, exc)
                continue
            status = response.status_code
            if status == 401 and authorization is None:
                if not renewed and self._auth.renew(self, header):
                    renewed = True
                    continue
                fresh = " even with a fresh access token" if renewed else ""
                raise ProviderError(
                    f"{call.who}{call.endpoint} answered {_status_text(self._answer(response))}: ConnexCS refused "
                    f"the credentials in {self._auth.where()}{fresh}; check them (a token may have expired or "
                    "been revoked)"
                )
            if status in RETRIED or status >= 500:
                # A 5xx may come from a proxy after the platform acted; a 429 or 408 never.
                maybe_applied = maybe_applied or status >= 500
                self._wait(call, attempts, started, deadline, f"answered {_status_text(self._answer(response))}",
                           response.headers.get("Retry-After"))
                continue
            if 200 <= status < 300:
                try:
                    payload = _decoded(response)
                except ValueError as exc:
                    maybe_applied = True
                    if call.confirm is not None:
                        settled = call.confirm()
                        if settled is not None:
                            return settled
                    self._wait(call, attempts, started, deadline,
                               f"answered {status} with a body that is not the API's JSON (cut off?)", None, exc)
                    continue
                return Answer(status, payload)
            if maybe_applied and call.confirm is not None:
                # Refused now (409: the name exists) perhaps because an earlier attempt did it.
                settled = call.confirm()
                if settled is not None:
                    return settled
            return self._answer(response)

    def _send(self, call: Call, header: str) -> httpx.Response:
        headers = {"Authorization": header}
        content = None
        if call.body is not None:
            content = json_text(call.body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        return self._client.request(call.method, call.path, params=dict(call.params), content=content, headers=headers)

    def _wait(
        self, call: Call, attempts: int, started: datetime, deadline: datetime, failure: str, retry_after: str | None,
        cause: BaseException | None = None,
    ) -> None:
        """Sleep before the next attempt (full jitter, at least Retry-After), or give up when
        the wait would go past the budget (CAUSE: the last attempt's exception, if any)."""
        now = self._clock()
        delay = self._jitter(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempts - 1)))
        asked = _retry_after(retry_after, now)
        if asked is not None:
            delay = max(delay, asked)
        if now + timedelta(seconds=delay) > deadline:
            spent = (now - started).total_seconds()
            tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
            raise ProviderUnavailable(
                f"{call.who}{call.endpoint} {failure} after {tries} in {spent:.1f} s; the retry budget of "
                f"{self._budget:g} s (live.options.retry_budget_seconds) is spent: the platform is rate limiting "
                "or unavailable; try again later"
            ) from cause
        self._sleep(delay)

    def _ok(self, call: Call, answer: Answer) -> Any:
        if 200 <= answer.status < 300:
            return answer.payload
        raise ProviderError(f"{call.who}{call.endpoint} answered {_status_text(answer)}")

    def _written(self, call: Call, answer: Answer) -> dict[str, Any]:
        if not 200 <= answer.status < 300:
            raise ProviderError(
                f"{call.who}the platform refused the write: {call.endpoint} answered {_status_text(answer)}"
            )
        return answer.payload if isinstance(answer.payload, dict) else {}

    def _answer(self, response: httpx.Response) -> Answer:
        try:
            payload = _decoded(response)
        except ValueError:
            payload = _HTML if "html" in response.headers.get("Content-Type", "") else None
        return Answer(response.status_code, payload)

    def _reason(self, exc: httpx.RequestError) -> str:
        reason = str(exc).strip()
        return hidden(f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__, self._secrets)


_HTML = object()  # the body was an HTML page


def _status_text(answer: Answer) -> str:
    """An answer's status and the API's own words for it, on one line: "400 Bad Request:
    Currency cannot be changed once set" (its `error` or `message`, unless they only repeat
    the status), or that the body was an HTML page."""
    try:
        phrase = HTTPStatus(answer.status).phrase
    except ValueError:
        phrase = ""
    shown = f"{answer.status} {phrase}".rstrip()
    if answer.payload is _HTML:
        return f"{shown} (an HTML page, not the API's JSON)"
    said = answer.payload.get("error") or answer.payload.get("message") if isinstance(answer.payload, dict) else None
    if isinstance(said, str) and said.strip() and said.strip().casefold() != phrase.casefold():
        text = escaped(" ".join(said.split()))
        shown += f": {text if len(text) <= _SHOWN else text[: _SHOWN - 3] + '...'}"
    return shown


def _decoded(response: httpx.Response) -> Any:
    """The body as JSON, decimals as Decimal (never a float); ValueError when it is not, or
    when it is nested deeper than Python's reader recurses."""
    if not response.content:
        return None
    try:
        return json.loads(response.content, parse_float=Decimal, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("the body is JSON nested too deeply to read") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from NOW: a number of seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


# An id given as text: what an id can be, and all that is safe to put in a path and a message.
_TEXT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def record_id(record: Any) -> str | None:
    """A customer record's id as text; None when it has none, or one that is no id (text
    that would climb out of the API's paths, or move a terminal)."""
    if not isinstance(record, dict):
        return None
    live_id = record.get("id")
    if isinstance(live_id, int) and not isinstance(live_id, bool):
        return str(live_id)
    return live_id if isinstance(live_id, str) and _TEXT_ID.fullmatch(live_id) else None


def json_text(value: Any) -> str:
    """VALUE as JSON, a Decimal as the number its text spells (never through a float)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is no JSON number")
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError(f"a float cannot be sent exactly: {value!r}")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(name), ensure_ascii=False)}:{json_text(item)}" for name, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _same_json(live: Any, sent: Any) -> bool:
    """Whether a live value is the one sent: amounts by value, whatever their spelling."""
    if live == sent:
        return True
    live_amount, sent_amount = _amount(live), _amount(sent)
    return live_amount is not None and sent_amount is not None and live_amount == sent_amount


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            return None
        return amount if amount.is_finite() else None
    return None
