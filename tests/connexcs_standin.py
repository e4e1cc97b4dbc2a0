"""A stand-in of the ConnexCS control-panel REST API, served over real HTTP on loopback.

Written from ConnexCS's public documentation; not verified against the real service. It
implements exactly the behaviour described here, and a client written against it should
rely on nothing else.

Use::

    with ConnexcsStandIn() as cx:
        httpx.get(cx.url + "customer", auth=("api-user", "api-Pa55word-secret"))

``url`` is ``http://127.0.0.1:PORT/api/cp/``; every path below is relative to it. The
server is a ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive: every response
carries a Content-Length (and a JSON body unless a fault says otherwise), and a request
body is read by its Content-Length (a chunked body is also accepted). Paths outside
``/api/cp/`` answer 404 ``{"error": "Not found"}``. All state sits behind one lock.

Authentication (missing or bad credentials: 401 ``{"error": "Unauthorized"}``)
-----------------------------------------------------------------------------
* HTTP Basic with ``user``/``password`` works on every customer endpoint.
* ``POST auth/jwt/refresh`` with Basic auth and a JSON body ``{"lifetime": seconds,
  "audience": "..."}`` (``lifetime`` a positive number, required; ``audience`` an optional
  string, recorded nowhere) answers 200 ``{"token": <refresh token>}``, a random string
  that lives ``lifetime`` seconds. Without valid Basic auth: 401; a bad body: 400.
* ``GET auth/jwt`` with ``Authorization: Bearer <refresh token>`` answers 200
  ``{"token": <access token>}``, as often as asked while the refresh token lives. An
  unknown token: 401 ``{"error": "Unauthorized"}``; an expired refresh token: 401
  ``{"error": "Token expired"}``. An access token is not a refresh token (401).
* ``Authorization: Bearer <access token>`` then works on every customer endpoint. An
  access token lives ``access_ttl`` seconds from its minting; after that, or after
  :meth:`ConnexcsStandIn.expire_access_tokens`, it answers 401 ``{"error": "Token
  expired"}``. A refresh token is not accepted on customer endpoints (401 Unauthorized).
* ``long_lived_token`` (a token minted in the panel), when set, is accepted as a Bearer
  token on every customer endpoint and also by ``GET auth/jwt``; it never expires.

Customers (every endpoint needs auth, checked before anything else)
-------------------------------------------------------------------
Records are JSON objects keyed by an integer ``id`` assigned on create: 1, 2, 3, ...; an id
is never reused after a delete. Every record carries fields the server maintains:
``credit`` (decimal string, "0.00" by default), ``last_call`` (null), ``ips`` ([]),
``sip_users`` ([]), ``cards`` ([]), ``contact_name`` (null), all read-only, and
``portal_theme`` ("default"), a field our tools do not know, which a client may write.
Read-only fields (those six and ``id``) in a POST or PUT body are ignored. Every other key
is stored exactly as sent: the stand-in does not know every field name. JSON numbers stay
JSON numbers and strings stay strings (numbers are parsed as Python int/float, so a float
with more than 17 significant digits is rounded); null is stored as null.

* ``GET customer``: the records in id order, as a bare JSON array with no total. AG-Grid
  paging: ``_startRow`` (inclusive, default 0), ``_endRow`` (exclusive, default
  ``_startRow + max_page``); at most ``max_page`` rows however wide the range; ``[]`` past
  the end. A non-integer or negative bound: 400. Every other query parameter is an
  equality filter on the field of that name, applied before paging and compared as
  strings: a string value as is, any other value as its JSON text (``5``, ``true``,
  ``null``); a record without the field does not match. Repeated parameters: the last wins.
* ``GET customer/{id}``: the record, or 404 ``{"error": "Customer not found"}``.
* ``POST customer`` with a JSON object: 200 with the stored record, including its new
  ``id``. ``name`` missing, null or blank: 400 ``{"error": "name is required"}``; not a
  string: 400 ``{"error": "name must be a string"}``; equal (case-insensitively) to another
  customer's name: 409 ``{"error": "A customer with this name already exists"}``.
* ``PUT customer/{id}`` with a JSON object of the fields that change: 200 with the whole
  updated record. Unknown id: 404; a ``currency`` different from a stored non-null one: 400
  ``{"message": "Currency cannot be changed once set"}`` (note: ``message``, not ``error``);
  a name rule broken as for POST: 400/409. Nothing is changed when the answer is not 200.
* ``DELETE customer/{id}``: 200 ``{"success": true}``; unknown id: 404.
* A body that is not JSON: 400 ``{"error": "Invalid JSON body"}``; JSON but not an object:
  400 ``{"error": "Body must be a JSON object"}`` (an empty body counts as ``{}``). Another
  method on a known path: 405 ``{"error": "Method not allowed"}``; an unknown path under
  ``/api/cp/``: 404 ``{"error": "Not found"}``.

Faults on demand: :meth:`ConnexcsStandIn.fail`
----------------------------------------------
A queued fault hits the next ``times`` requests whose method matches (``"*"`` matches any)
and whose path, relative to ``/api/cp/`` and without the query, starts with the given path
(so ``"auth/jwt"`` also matches ``auth/jwt/refresh``, and ``"customer"`` matches
``customer/7``). It is checked before authentication. When several queued faults match,
the oldest is used until it is used up. The kinds:

* ``"401"``, ``"404"``, ``"500"``, ``"429"``, ``"html"``, ``"truncated"``, ``"nested"``: the request is
  NOT processed (a write is not applied, no token is minted or revoked) and the answer is
  401 ``{"error": "Unauthorized"}``, 404 ``{"error": "Not found"}``, 500 ``{"error":
  "Internal Server Error"}``, 429 ``{"error": "Too Many Requests"}`` (with a
  ``Retry-After`` header, verbatim, when ``retry_after`` is given: seconds like ``"1"`` or
  an HTTP date), a 502 text/html ``<html><body><h1>502 Bad Gateway</h1></body></html>``,
  or a 200 application/json whose body is cut-off JSON ``[{"id": 1, "na`` (with a
  Content-Length matching that cut-off body: the client reads it whole and fails to
  decode it), or a 200 application/json whose body is a list nested 100,000 deep (well
  formed, and past any reader that recurses). A "401" fault revokes nothing: the same
  credentials work on the next call.
* ``"slow"``: the request is processed at once when it arrives (a write IS applied), then
  the answer is held back ``slow_seconds`` before it is sent normally. A client that times
  out first does not know whether its write happened: it did.
* ``"drop"``: the request is processed (a write IS applied); the status line and headers
  of the real answer are sent with the real Content-Length, then only part of the body,
  then the connection is closed. The client sees a protocol error (``httpx``:
  ``RemoteProtocolError``) and must re-read before retrying a write.

``latency`` seconds are added to every request, faulted or not, before it is processed.

Test helpers
------------
``seed`` stores a record bypassing auth and rules; ``records`` returns deep copies;
``edit`` changes a record as someone in the web panel would; ``requests`` logs every
request as a :class:`Request` (no password, no token, no Authorization header);
``connections`` counts accepted TCP connections (to check keep-alive); ``errors`` holds
tracebacks of bugs in the stand-in itself (answered as 500), which a test may assert empty.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hmac
import json
import math
import secrets
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["FAULTS", "READ_ONLY_FIELDS", "SERVER_DEFAULTS", "ConnexcsStandIn", "Request"]

PREFIX = "/api/cp/"

#: Fields the server maintains; ignored when a client sends them in POST or PUT.
READ_ONLY_FIELDS = frozenset(
    {"id", "credit", "last_call", "ips", "sip_users", "cards", "contact_name"}
)

#: Values every record starts with when it lacks them (``portal_theme`` is writable).
SERVER_DEFAULTS: dict[str, Any] = {
    "credit": "0.00",
    "last_call": None,
    "ips": [],
    "sip_users": [],
    "cards": [],
    "contact_name": None,
    "portal_theme": "default",
}

#: The fault kinds :meth:`ConnexcsStandIn.fail` accepts.
FAULTS = frozenset({"401", "404", "429", "500", "drop", "slow", "html", "truncated", "nested"})

HTML_502 = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
TRUNCATED_JSON = b'[{"id": 1, "na'
NESTED_JSON = b"[" * 100_000 + b"]" * 100_000

AuthKind = Literal["basic", "bearer", "none"]


@dataclass(frozen=True)
class Request:
    """One request as the stand-in received it.

    ``path`` is relative to ``/api/cp/`` (percent-decoded, no query; the full path when the
    request was outside ``/api/cp/``); ``query`` maps each parameter to its last value;
    ``json`` is the parsed body, or None when there was none or it was not JSON; ``auth`` is
    the scheme of the Authorization header ("basic" or "bearer", valid or not; "none" for
    no header or another scheme). Credentials and tokens are never kept.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    auth: AuthKind


@dataclass
class _Fault:
    method: str
    path: str
    kind: str
    remaining: int
    retry_after: str | None


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def _json_response(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> _Response:
    try:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # half of a surrogate pair, seeded on purpose: sent as JSON's escape for it
        body = json.dumps(payload).encode("ascii")
    return _Response(status, body, headers=headers)


def _error(status: int, message: str) -> _Response:
    return _json_response(status, {"error": message})


def _as_query_string(value: Any) -> str:
    """A field's value as an equality filter sees it: strings as is, else the JSON text."""
    return value if isinstance(value, str) else json.dumps(value)


def _is_positive_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: ConnexcsStandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (timeout, closed pool) is not an error of the stand-in;
        # anything else was already answered as 500 and recorded in ``errors``.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.standin._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.standin._connection_closed(self.connection)

    def do_GET(self) -> None:
        self.server.standin._handle(self)

    def do_POST(self) -> None:
        self.server.standin._handle(self)

    def do_PUT(self) -> None:
        self.server.standin._handle(self)

    def do_DELETE(self) -> None:
        self.server.standin._handle(self)

    def do_PATCH(self) -> None:
        self.server.standin._handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ConnexcsStandIn:
    """The ConnexCS control-panel API on 127.0.0.1 (see the module docstring for the API).

    A context manager: entering starts the server on a free port in a daemon thread and
    sets ``url``; leaving stops it, closes every open connection and wakes any request
    held back by ``latency`` or a "slow" fault. ``latency`` and ``slow_seconds`` are plain
    attributes a test may change while the server runs.
    """

    def __init__(
        self,
        *,
        user: str = "api-user",
        password: str = "api-Pa55word-secret",
        long_lived_token: str | None = None,
        access_ttl: float = 300.0,
        max_page: int = 100,
        latency: float = 0.0,
        slow_seconds: float = 2.0,
    ) -> None:
        if max_page < 1:
            raise ValueError("max_page must be at least 1")
        self.user = user
        self._password = password
        self._long_lived_token = long_lived_token
        self.access_ttl = access_ttl
        self.max_page = max_page
        self.latency = latency
        self.slow_seconds = slow_seconds
        self.url = ""
        self.requests: list[Request] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._customers: dict[int, dict[str, Any]] = {}
        self._next_id = 1
        self._refresh_tokens: dict[str, float] = {}  # token -> monotonic deadline
        self._access_tokens: dict[str, float] = {}
        self._faults: list[_Fault] = []
        self._open: set[socket.socket] = set()
        self._connections = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Self:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        self._server = server
        self._stopping.clear()
        port = server.server_address[1]
        self.url = f"http://127.0.0.1:{port}{PREFIX}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True,
            name=f"connexcs-standin-{port}",
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            still_open = list(self._open)
        for conn in still_open:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def connections(self) -> int:
        """How many TCP connections the server has accepted so far."""
        with self._lock:
            return self._connections

    def _connection_opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.add(conn)
            self._connections += 1

    def _connection_closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.discard(conn)

    # -- helpers for tests ---------------------------------------------------------------

    def seed(self, record: dict[str, Any]) -> int:
        """Store a deep copy of ``record`` directly (no auth, no rules) and return its id.

        Values are kept as given, read-only ones included; missing server fields get their
        defaults. An int ``id`` in the record is used (ValueError if taken; later ids
        continue after it); without one the next id is assigned.
        """
        data = copy.deepcopy(record)
        with self._lock:
            given = data.pop("id", None)
            if given is None:
                cid = self._next_id
            elif isinstance(given, int) and not isinstance(given, bool) and given > 0:
                if given in self._customers:
                    raise ValueError(f"customer id {given} is already taken")
                cid = given
            else:
                raise ValueError(f"a seeded id must be a positive int, got {given!r}")
            self._next_id = max(self._next_id, cid + 1)
            self._customers[cid] = self._with_defaults(cid, data)
            return cid

    def records(self) -> list[dict[str, Any]]:
        """A deep copy of every record, in id order, as the API would return them."""
        with self._lock:
            return [copy.deepcopy(self._customers[cid]) for cid in sorted(self._customers)]

    def edit(self, id: int, **fields: Any) -> None:
        """Change fields of record ``id`` directly, read-only ones and currency included,
        as someone in the web panel would. KeyError for an unknown id; ``id`` cannot change.
        """
        if "id" in fields:
            raise ValueError("edit cannot change a record's id")
        with self._lock:
            if id not in self._customers:
                raise KeyError(id)
            self._customers[id].update(copy.deepcopy(fields))

    def fail(
        self,
        method: str,
        path: str,
        fault: str,
        *,
        times: int = 1,
        retry_after: str | None = None,
    ) -> None:
        """Queue ``fault`` for the next ``times`` requests matching ``method`` and ``path``.

        ``method`` is compared case-insensitively ("*" matches any); ``path`` is a prefix of
        the path relative to /api/cp/ (a leading "/" is ignored). See the module docstring
        for what each fault does and whether the request takes effect.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {sorted(FAULTS)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if retry_after is not None and fault != "429":
            raise ValueError("retry_after goes with the 429 fault only")
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), path.lstrip("/"), fault, times, retry_after)
            )

    def pending_faults(self) -> int:
        """How many faulted requests are still queued (the sum of what each has left)."""
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def expire_access_tokens(self) -> None:
        """Make every access token minted so far expired (401 "Token expired") at once."""
        with self._lock:
            for token in self._access_tokens:
                self._access_tokens[token] = -math.inf

    def expire_refresh_tokens(self) -> None:
        """Make every refresh token minted so far expired at once (the long-lived token
        is not affected)."""
        with self._lock:
            for token in self._refresh_tokens:
                self._refresh_tokens[token] = -math.inf

    # -- request handling ----------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        method = handler.command.upper()
        split = urlsplit(handler.path)
        raw_path = unquote(split.path)
        inside = raw_path.startswith(PREFIX)
        rel = raw_path[len(PREFIX):].strip("/") if inside else raw_path
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        header = handler.headers.get("Authorization") or ""
        scheme = header.split(" ", 1)[0].lower()
        auth: AuthKind = "basic" if scheme == "basic" else "bearer" if scheme == "bearer" else "none"

        try:
            raw_body = self._read_body(handler)
        except (ValueError, OSError):
            with self._lock:
                self.requests.append(Request(method, rel, query, None, auth))
            handler.close_connection = True
            self._send(handler, _error(400, "Unreadable request body"))
            return
        body: Any = None
        body_ok = True
        if raw_body.strip():
            try:
                body = json.loads(raw_body, parse_constant=_refuse_constant)
            except (ValueError, UnicodeDecodeError):
                body_ok = False
        with self._lock:
            self.requests.append(Request(method, rel, query, copy.deepcopy(body), auth))

        if self.latency > 0:
            self._stopping.wait(self.latency)

        if not inside:
            self._send(handler, _error(404, "Not found"))
            return

        fault = self._take_fault(method, rel)
        if fault is not None and fault.kind not in ("slow", "drop"):
            self._send(handler, self._fault_response(fault))
            return

        try:
            response = self._process(method, rel, query, body, body_ok, header)
        except Exception:
            with self._lock:
                self.errors.append(traceback.format_exc())
            response = _error(500, "Internal Server Error (a bug in the stand-in)")

        if fault is not None and fault.kind == "slow":
            self._stopping.wait(self.slow_seconds)
        self._send(handler, response, drop=fault is not None and fault.kind == "drop")

    @staticmethod
    def _read_body(handler: _Handler) -> bytes:
        if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                line = handler.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while handler.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(handler.rfile.read(size))
                handler.rfile.readline(65537)
        length = int(handler.headers.get("Content-Length") or "0")
        if length < 0:
            raise ValueError("negative Content-Length")
        return handler.rfile.read(length) if length else b""

    def _take_fault(self, method: str, rel: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in ("*", method) and rel.startswith(fault.path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    @staticmethod
    def _fault_response(fault: _Fault) -> _Response:
        if fault.kind == "401":
            return _error(401, "Unauthorized")
        if fault.kind == "404":
            return _error(404, "Not found")
        if fault.kind == "500":
            return _error(500, "Internal Server Error")
        if fault.kind == "429":
            headers = (("Retry-After", fault.retry_after),) if fault.retry_after is not None else ()
            return _json_response(429, {"error": "Too Many Requests"}, headers)
        if fault.kind == "html":
            return _Response(502, HTML_502, content_type="text/html; charset=utf-8")
        if fault.kind == "truncated":
            return _Response(200, TRUNCATED_JSON)
        if fault.kind == "nested":
            return _Response(200, NESTED_JSON)
        raise AssertionError(f"not an immediate fault: {fault.kind}")

    @staticmethod
    def _send(handler: _Handler, response: _Response, *, drop: bool = False) -> None:
        try:
            handler.send_response(response.status)
            handler.send_header("Content-Type", response.content_type)
            handler.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                handler.send_header(name, value)
            handler.end_headers()
            if drop:
                handler.wfile.write(response.body[: len(response.body) // 2])
                handler.wfile.flush()
                handler.close_connection = True
            else:
                handler.wfile.write(response.body)
        except OSError:
            # The client is gone (it timed out, or the stand-in is stopping).
            handler.close_connection = True

    # -- the API -------------------------------------------------------------------------

    def _process(
        self, method: str, rel: str, query: dict[str, str], body: Any, body_ok: bool, header: str
    ) -> _Response:
        with self._lock:
            if rel == "auth/jwt/refresh":
                if method != "POST":
                    return _error(405, "Method not allowed")
                return self._mint_refresh(header, body, body_ok)
            if rel == "auth/jwt":
                if method != "GET":
                    return _error(405, "Method not allowed")
                return self._mint_access(header)

            refusal = self._check_auth(header)
            if refusal is not None:
                return refusal

            parts = rel.split("/")
            if parts[0] != "customer" or len(parts) > 2:
                return _error(404, "Not found")
            if method in ("POST", "PUT"):
                if not body_ok:
                    return _error(400, "Invalid JSON body")
                if body is None:
                    body = {}
                if not isinstance(body, dict):
                    return _error(400, "Body must be a JSON object")
            if len(parts) == 1:
                if method == "GET":
                    return self._list(query)
                if method == "POST":
                    return self._create(body)
                return _error(405, "Method not allowed")
            cid = int(parts[1]) if parts[1].isascii() and parts[1].isdigit() else None
            if method not in ("GET", "PUT", "DELETE"):
                return _error(405, "Method not allowed")
            if cid is None or cid not in self._customers:
                return _error(404, "Customer not found")
            if method == "GET":
                return _json_response(200, self._customers[cid])
            if method == "PUT":
                return self._update(cid, body)
            del self._customers[cid]
            return _json_response(200, {"success": True})

    def _basic_ok(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, sep, password = decoded.partition(b":")
        return bool(sep) and (
            hmac.compare_digest(user, self.user.encode("utf-8"))
            & hmac.compare_digest(password, self._password.encode("utf-8"))
        )

    @staticmethod
    def _bearer(header: str) -> str | None:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def _is_long_lived(self, token: str) -> bool:
        return self._long_lived_token is not None and hmac.compare_digest(
            token.encode("utf-8"), self._long_lived_token.encode("utf-8")
        )

    def _check_auth(self, header: str) -> _Response | None:
        if self._basic_ok(header):
            return None
        token = self._bearer(header)
        if token is None:
            return _error(401, "Unauthorized")
        if self._is_long_lived(token):
            return None
        deadline = self._access_tokens.get(token)
        if deadline is None:
            return _error(401, "Unauthorized")
        if time.monotonic() >= deadline:
            return _error(401, "Token expired")
        return None

    def _mint_refresh(self, header: str, body: Any, body_ok: bool) -> _Response:
        if not self._basic_ok(header):
            return _error(401, "Unauthorized")
        if not body_ok:
            return _error(400, "Invalid JSON body")
        if not isinstance(body, dict):
            return _error(400, "Body must be a JSON object")
        if not _is_positive_number(body.get("lifetime")):
            return _error(400, "lifetime must be a positive number of seconds")
        if not isinstance(body.get("audience", ""), str):
            return _error(400, "audience must be a string")
        token = secrets.token_urlsafe(32)
        self._refresh_tokens[token] = time.monotonic() + float(body["lifetime"])
        return _json_response(200, {"token": token})

    def _mint_access(self, header: str) -> _Response:
        token = self._bearer(header)
        if token is None:
            return _error(401, "Unauthorized")
        if not self._is_long_lived(token):
            deadline = self._refresh_tokens.get(token)
            if deadline is None:
                return _error(401, "Unauthorized")
            if time.monotonic() >= deadline:
                return _error(401, "Token expired")
        access = secrets.token_urlsafe(32)
        self._access_tokens[access] = time.monotonic() + self.access_ttl
        return _json_response(200, {"token": access})

    def _list(self, query: dict[str, str]) -> _Response:
        filters = {k: v for k, v in query.items() if k not in ("_startRow", "_endRow")}
        try:
            start = int(query.get("_startRow", "0"))
            end = int(query["_endRow"]) if "_endRow" in query else start + self.max_page
        except ValueError:
            return _error(400, "_startRow and _endRow must be integers")
        if start < 0 or end < 0:
            return _error(400, "_startRow and _endRow must not be negative")
        rows = [
            self._customers[cid]
            for cid in sorted(self._customers)
            if all(
                key in self._customers[cid] and _as_query_string(self._customers[cid][key]) == want
                for key, want in filters.items()
            )
        ]
        return _json_response(200, rows[start : max(start, min(end, start + self.max_page))])

    def _name_refusal(self, name: Any, own_id: int | None) -> _Response | None:
        if name is None or (isinstance(name, str) and not name.strip()):
            return _error(400, "name is required")
        if not isinstance(name, str):
            return _error(400, "name must be a string")
        folded = name.casefold()
        for cid, record in self._customers.items():
            other = record.get("name")
            if cid != own_id and isinstance(other, str) and other.casefold() == folded:
                return _error(409, "A customer with this name already exists")
        return None

    def _create(self, body: dict[str, Any]) -> _Response:
        fields = {k: v for k, v in body.items() if k not in READ_ONLY_FIELDS}
        refusal = self._name_refusal(fields.get("name"), None)
        if refusal is not None:
            return refusal
        cid = self._next_id
        self._next_id += 1
        self._customers[cid] = self._with_defaults(cid, copy.deepcopy(fields))
        return _json_response(200, self._customers[cid])

    def _update(self, cid: int, body: dict[str, Any]) -> _Response:
        record = self._customers[cid]
        changes = {k: v for k, v in body.items() if k not in READ_ONLY_FIELDS}
        if (
            "currency" in changes
            and record.get("currency") is not None
            and changes["currency"] != record["currency"]
        ):
            return _json_response(400, {"message": "Currency cannot be changed once set"})
        if "name" in changes:
            refusal = self._name_refusal(changes["name"], cid)
            if refusal is not None:
                return refusal
        record.update(copy.deepcopy(changes))
        return _json_response(200, record)

    @staticmethod
    def _with_defaults(cid: int, fields: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {"id": cid, **fields}
        for key, value in SERVER_DEFAULTS.items():
            record.setdefault(key, copy.deepcopy(value))
        return record
