"""The ConnexCS live provider: customers through the control-panel REST API
(`connexcs_api`), their fields through the mapping (`connexcs_mapping`), and what the
platform cannot keep for us in the state store (`state`).

Identity. A file's key is not a ConnexCS id: the state store binds each key the reconciler
manages to the platform's id. A live customer no key is bound to is unmanaged; its key is
the slug of its name (lower case; runs of characters outside [a-z0-9_-] become "-";
trimmed of "-" at either end and of "_" at the start, as a key starts with a letter or a
digit; at most 64 characters), and `<slug>-<id>` when two customers, or a bound key, would
share it, or `<id>` when its name leaves nothing. A rename only binds the record to its
new key (a change of `name` is a field update); `import` binds what it wrote (`bind`).

Versions. The platform keeps none, so the state store counts them: 1 at create, one more
on every write of ours, and one more whenever a read finds the record's content changed
since it was last read or written (someone edited it in the panel): an outside edit counts
as a write, and a plan made before it is stale. An unmanaged record is at version 1.

Writes. Each write re-reads its record first (a changed record is a conflict, as the SQL
store's row lock would make it), sends only the fields that differ, and goes through the
state store's claim / settle / abandon (see state.py), so the audit never records as
applied a write that did not happen. Writes may run at once from several threads
("concurrent_writes"); everything shared sits behind a lock or is thread-safe itself.

A name of its own: a platform customer must have a name. A customer written without one
(desired state always gives it one, its key; a caller of the provider may not) is sent
under its key, and the state store remembers that name as standing for none
(`default_name`), so the customer reads back as it was written.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit, urlunsplit

import httpx

from reconciler.errors import ConfigError
from reconciler.model.customer import Customer
from reconciler.model.fields import canonical, canonical_document, digest
from reconciler.providers import conflicts, ledger
from reconciler.providers.base import (
    AuditAction,
    AuditContext,
    AuditRecord,
    Lease,
    LiveCustomer,
    LiveRead,
    LiveRecord,
    MappingCheck,
    PendingRead,
    Provider,
    ProviderConfig,
    ProviderInfo,
    Run,
    StoreState,
    begun,
    finish_begun,
)
from reconciler.providers.connexcs_api import (
    Auth,
    Clock,
    ConnexcsApi,
    JwtAuth,
    Sleep,
    basic_auth,
    record_id,
    token_auth,
)
from reconciler.providers.connexcs_mapping import Decimals, FieldMapping
from reconciler.providers.options import NUMBER, OptionType, check_options
from reconciler.providers.records import live_record
from reconciler.providers.state import Applied, Binding, StateStore

DEFAULT_URL = "https://app.connexcs.com/api/cp/"
ENVIRONMENT = {
    "user_env": ("RECONCILER_CONNEXCS_USER", "the ConnexCS control-panel user name"),
    "password_env": ("RECONCILER_CONNEXCS_PASSWORD", "that user's password"),
    "token_env": ("RECONCILER_CONNEXCS_TOKEN", "a long-lived token minted in the control panel (Setup, Integrations, JWT Keys)"),
}
OPTIONS: dict[str, OptionType] = {
    "url": str,
    "auth": str,
    "user_env": str,
    "password_env": str,
    "token_env": str,
    "jwt_lifetime": NUMBER,
    "jwt_audience": str,
    "page_size": int,
    "write_concurrency": int,
    "timeout_seconds": NUMBER,
    "retry_budget_seconds": NUMBER,
    "ca_bundle": str,
    "decimals": str,
}
DEFAULT_PAGE_SIZE = 100
DEFAULT_WRITE_CONCURRENCY = 4
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_BUDGET = 60.0
DEFAULT_JWT_LIFETIME = 3600
FEW_KEYS = 20  # a read of at most this many bound keys asks for each; more read the listing


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Unbound:
    """A live customer no key is bound to, as the last listing found it."""

    live_id: str
    digest: str


class ConnexcsProvider(Provider):
    """Options (`[live.options]`): `url` (https; http only to a loopback address), `auth`
    ("basic", "jwt" or "token"), `user_env`, `password_env`, `token_env` (the environment
    variables holding the credentials), `jwt_lifetime`, `jwt_audience`, `page_size`,
    `write_concurrency`, `timeout_seconds`, `retry_budget_seconds`, `ca_bundle`, `decimals`
    ("string" or "number"). `[live.mapping]`, `[live.values]` and `[live.account_manager_ids]`
    adjust the mapping; `[state]` says where the state store is (default: SQLite)."""

    name = "connexcs"
    known_options: ClassVar[Mapping[str, Any]] = OPTIONS

    def __init__(
        self, api: ConnexcsApi, mapping: FieldMapping, state: StateStore, *, url: str, write_concurrency: int
    ) -> None:
        self._api = api
        self.mapping = mapping
        self.state = state
        self.write_concurrency = write_concurrency
        self._target = f"connexcs {url} (state: {state.shown})"
        self._lock = threading.Lock()
        self._unbound: dict[str, _Unbound] | None = None  # key -> record, from the last listing
        self._listings: set[Future[Any]] = set()  # started on threads of their own (`begun`)

    @classmethod
    def from_options(
        cls,
        options: Mapping[str, Any],
        *,
        environ: Mapping[str, str],
        root: Path,
        config: ProviderConfig | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = utc_now,
        transport: httpx.BaseTransport | None = None,
    ) -> Self:
        """SLEEP and CLOCK time the retries (tests pass their own); TRANSPORT replaces the network."""
        check_options(cls.name, options, cls.known_options)
        config = config or ProviderConfig()
        url = _url(str(options.get("url", DEFAULT_URL)))
        auth, secrets = _auth(options, environ)
        write_concurrency = _number(options, "write_concurrency", DEFAULT_WRITE_CONCURRENCY, low=1, high=64)
        decimals = options.get("decimals", "string")
        if decimals not in ("string", "number"):
            raise ConfigError(f'live.options.decimals: expected "string" or "number", got {decimals!r}')
        chosen: Decimals = "number" if decimals == "number" else "string"
        mapping = FieldMapping(config.mapping, config.values, config.account_manager_ids, decimals=chosen)
        api = ConnexcsApi(
            url,
            auth,
            timeout=_number(options, "timeout_seconds", DEFAULT_TIMEOUT, low=0.001),
            retry_budget=_number(options, "retry_budget_seconds", DEFAULT_RETRY_BUDGET, low=0),
            page_size=_number(options, "page_size", DEFAULT_PAGE_SIZE, low=1, high=100_000),
            verify=_verify(url, options.get("ca_bundle"), root),
            max_connections=write_concurrency + 1,
            sleep=sleep,
            clock=clock,
            secrets=secrets,
            transport=transport,
        )
        state = StateStore.from_settings(config.state, environ=environ, root=root, clock=clock)
        return cls(api, mapping, state, url=url, write_concurrency=write_concurrency)

    def describe(self) -> ProviderInfo:
        return ProviderInfo(
            self.name, self._target, frozenset({"audit", "lock", "concurrent_writes"}), mapping=self.mapping.pairs()
        )

    def open(self) -> StoreState:
        return self.state.open()

    def close(self) -> None:
        finish_begun(self._listings)  # a listing never asked for ends first
        self._api.close()
        self.state.close()
        with self._lock:
            self._unbound = None

    # --- reading ----------------------------------------------------------------------------

    def start_read_differing(self) -> PendingRead:
        """The platform's listing, every page of it, on a thread of its own while the caller
        loads the fleet: the wait is the network's, which Python need not sit out. Every
        record is read, as `read_differing` reads them (the platform keeps no digests), so
        none is read ahead."""
        listed = begun(self.read, self._listings, "reconciler-listing")
        return PendingRead(lambda digests, _: LiveRead(listed()))

    def read(self, keys: Collection[str] | None = None) -> dict[str, LiveRecord]:
        if keys is not None:
            wanted = set(keys)
            if not wanted:
                return {}
            bound = self.state.bindings(wanted)
            if len(bound) == len(wanted) <= FEW_KEYS:
                rows = [
                    row for binding in bound.values()
                    if (row := self._api.get_customer(binding.live_id, customer=binding.key)) is not None
                ]
                return self._records(rows, bound, listing=False)
        records = self._records(self._api.list_customers(), self.state.bindings(), listing=True)
        return records if keys is None else {key: record for key, record in records.items() if key in wanted}

    def _records(
        self, rows: Sequence[Mapping[str, Any]], bindings: Mapping[str, Binding], *, listing: bool
    ) -> dict[str, LiveRecord]:
        """The live records of ROWS, keyed; versions moved for content changed outside."""
        by_id = {binding.live_id: binding for binding in bindings.values()}
        free = [row for row in rows if record_id(row) not in by_id]
        keys = self._unbound_keys(free, taken=set(bindings))
        records: dict[str, LiveRecord] = {}
        unbound: dict[str, _Unbound] = {}
        changed: dict[str, tuple[int, str]] = {}
        for row in rows:
            live_id = record_id(row)
            assert live_id is not None  # the listing refuses rows without one
            binding = by_id.get(live_id)
            key = binding.key if binding is not None else keys[live_id]
            record, content = self._record(key, row, binding)
            records[key] = record
            if binding is None:
                unbound[key] = _Unbound(live_id, content)
            elif content != binding.digest:
                changed[key] = (binding.version, content)
        for key, version in (self.state.note_digests(changed) if changed else {}).items():
            records[key] = replace(records[key], version=version)
        if listing:
            with self._lock:
                self._unbound = unbound
        return records

    def _record(
        self, key: str, row: Mapping[str, Any], binding: Binding | None, *, version: int | None = None,
        active: bool | None = None,
    ) -> tuple[LiveRecord, str]:
        """ROW as the live record of KEY, and the digest of its content."""
        document, problems = self.mapping.from_api(row)
        live_name = row.get(self.mapping.api["name"])
        if binding is not None and binding.default_name is not None and live_name == binding.default_name:
            document["name"] = None
        if binding is not None and binding.last_applied is not None:
            document["renamed_from"] = list(binding.last_applied.get("renamed_from") or [])
        record = live_record(
            key, document,
            version=version if version is not None else binding.version if binding is not None else 1,
            managed=binding is not None,
            active=active if active is not None else not (binding is not None and binding.deactivated),
            problems=problems,
        )
        if isinstance(record, LiveCustomer):
            return record, digest(record.customer)
        return record, _raw_digest(self.mapping.mapped_values(row))

    def _unbound_keys(self, rows: Sequence[Mapping[str, Any]], *, taken: set[str]) -> dict[str, str]:
        """Live id -> key for customers no key is bound to (see the module's docstring)."""
        name = self.mapping.api["name"]
        slugs = {record_id(row) or "": slug(row.get(name)) for row in rows}
        counts = Counter(slugs.values())
        keys: dict[str, str] = {}
        used = set(taken)
        for live_id in sorted(slugs, key=lambda live_id: (len(live_id), live_id)):
            key = slugs[live_id]
            if not key or counts[key] > 1:
                key = _suffixed(key, live_id)
            while key in used:  # a bound key, or a customer named like a suffixed key
                key = _suffixed(key, live_id)
            used.add(key)
            keys[live_id] = key
        return keys

    # --- writing ----------------------------------------------------------------------------

    def create(self, key: str, customer: Customer, audit: AuditContext) -> LiveCustomer:
        binding = self.state.binding(key)
        if binding is not None:
            if self._api.get_customer(binding.live_id, customer=key) is not None:
                raise conflicts.exists(key, binding.version)
            self.state.forget(key, binding.live_id)  # its record was removed outside the reconciler
        with self._lock:
            if self._unbound is not None and key in self._unbound:
                raise conflicts.exists(key, 1)
        body = self.mapping.to_api(key, customer)
        record = self._api.create_customer(key, body, name_field=self.mapping.api["name"])
        live_id = record_id(record)
        assert live_id is not None  # create_customer refuses an answer without one
        self.state.bind_created(
            key, live_id=live_id, digest=digest(customer), applied=self._applied(key, customer), context=audit,
            changes=ledger.creation_changes(canonical_document(customer)),
        )
        return LiveCustomer(key, customer, 1, managed=True, active=True)

    def update(self, key: str, customer: Customer, expected_version: int, audit: AuditContext) -> LiveCustomer:
        binding, live_id = self._locate(key, expected_version)
        row, current, content = self._current(key, binding, live_id, expected_version)
        wanted = self.mapping.to_api(key, customer)  # a value it cannot spell stops here, before any claim
        body = self._changed(key, row, current, wanted)
        changes = ledger.field_changes(_document(current), customer)
        token = self._claim(key, binding, live_id, expected_version, content, audit, "update",
                            changes or [(None, None, None)])
        try:
            if body:
                self._api.update_customer(key, live_id, body)
        except Exception:
            self.state.abandon(key, token, expected_version=expected_version, bound=binding is not None)
            raise
        self.state.settle(key, token, digest=digest(customer), deactivated=False, applied=self._applied(key, customer))
        return LiveCustomer(key, customer, expected_version + 1, managed=True, active=True)

    def deactivate(self, key: str, expected_version: int, audit: AuditContext) -> LiveRecord:
        binding, live_id = self._locate(key, expected_version)
        row, current, content = self._current(key, binding, live_id, expected_version)
        status, inactive = self.mapping.api["status"], self.mapping.values["status"]["inactive"]
        token = self._claim(key, binding, live_id, expected_version, content, audit, "deactivate",
                            [("status", _document(current).get("status"), "inactive")])
        try:
            if row.get(status) != inactive:
                self._api.update_customer(key, live_id, {status: inactive})
        except Exception:
            self.state.abandon(key, token, expected_version=expected_version, bound=binding is not None)
            raise
        # An unmanaged customer is bound by the claim: read it back as bound.
        after = binding or Binding(key, live_id, expected_version, None, False, None, None, None)
        record, content = self._record(key, {**row, status: inactive}, after, version=expected_version + 1, active=False)
        self.state.settle(key, token, digest=content, deactivated=True)
        return record

    def delete(self, key: str, expected_version: int, audit: AuditContext) -> None:
        binding, live_id = self._locate(key, expected_version)
        _, current, content = self._current(key, binding, live_id, expected_version)
        before = canonical(_document(current)) if isinstance(current, LiveCustomer) else _json_safe(current.values)
        token = self._claim(key, binding, live_id, expected_version, content, audit, "delete",
                            [(None, before, None)])
        try:
            self._api.delete_customer(key, live_id)
        except Exception:
            self.state.abandon(key, token, expected_version=expected_version, bound=binding is not None)
            raise
        self.state.settle_removal(key, token)

    def rename(self, old_key: str, new_key: str, expected_version: int, audit: AuditContext) -> LiveRecord:
        binding, live_id = self._locate(old_key, expected_version)
        with self._lock:
            if self._unbound is not None and new_key in self._unbound:
                raise conflicts.rename_taken(old_key, new_key)
        _, current, content = self._current(old_key, binding, live_id, expected_version)
        version = self.state.rename(
            old_key, new_key, live_id=live_id, expected_version=expected_version, bound=binding is not None,
            digest=content, context=audit,
        )
        self._forget_unbound(old_key)
        return replace(current, key=new_key, version=version, managed=True)

    def bind(self, keys: Collection[str], audit: AuditContext) -> set[str]:
        with self._lock:
            listed = self._unbound
        if listed is None or not set(keys) <= listed.keys():
            self.read()
            with self._lock:
                listed = self._unbound or {}
        found = [(key, listed[key].live_id, listed[key].digest) for key in sorted(keys) if key in listed]
        bound = self.state.bind_imported(found, audit)
        for key in bound:
            self._forget_unbound(key)
        return bound

    def _locate(self, key: str, expected_version: int) -> tuple[Binding | None, str]:
        """The binding of KEY (None for an unmanaged customer) and its live id; a conflict
        when the platform has no customer of that key."""
        binding = self.state.binding(key)
        if binding is not None:
            return binding, binding.live_id
        with self._lock:
            listed = self._unbound
        if listed is None:
            self.read()
            with self._lock:
                listed = self._unbound or {}
        if key not in listed:
            raise conflicts.missing(key, expected_version)
        return None, listed[key].live_id

    def _current(
        self, key: str, binding: Binding | None, live_id: str, expected_version: int
    ) -> tuple[dict[str, Any], LiveRecord, str]:
        """The record as the platform holds it now, if it is still at the version the plan
        expected (an edit since the last read moves the version on first); its digest."""
        row = self._api.get_customer(live_id, customer=key)
        if row is None:
            raise conflicts.missing(key, expected_version)
        record, content = self._record(key, row, binding)
        version = record.version
        if binding is not None and content != binding.digest:
            version = self.state.note_digests({key: (binding.version, content)}).get(key, version)
        if version != expected_version:
            raise conflicts.stale(key, version, expected_version)
        return row, record, content

    def _claim(
        self, key: str, binding: Binding | None, live_id: str, expected_version: int, content: str,
        audit: AuditContext, action: AuditAction, changes: Sequence[ledger.Change],
    ) -> str:
        token = self.state.claim(
            key, live_id=live_id, expected_version=expected_version, bound=binding is not None, digest=content,
            context=audit, action=action, changes=changes,
        )
        self._forget_unbound(key)
        return token

    def _changed(self, key: str, row: Mapping[str, Any], current: LiveRecord, wanted: Mapping[str, Any]) -> dict[str, Any]:
        """The fields of WANTED whose live value differs: what a PUT sends."""
        name = self.mapping.api["name"]
        if isinstance(current, LiveCustomer):
            # What we would send for the live customer as it reads: a field the record does
            # not carry reads as its default, and is sent only when that is not wanted.
            now = self.mapping.to_api(key, current.customer)
            now[name] = row.get(name)
        else:
            now = dict(row)
        return {
            field.api: wanted[field.api]
            for field in self.mapping.fields
            if field.api not in now or not self.mapping.same(field.path, wanted[field.api], now[field.api])
        }

    def _applied(self, key: str, customer: Customer) -> Applied:
        return Applied(canonical_document(customer), default_name=key if customer.name is None else None)

    def _forget_unbound(self, key: str) -> None:
        with self._lock:
            if self._unbound is not None:
                self._unbound.pop(key, None)

    # --- audit, lock, mapping ---------------------------------------------------------------

    def read_audit(self, key: str | None = None, limit: int | None = None, field: str | None = None) -> list[AuditRecord]:
        return self.state.read_audit(key, limit, field)

    def record_run(self, run: Run) -> None:
        self.state.record_run(run)

    def read_runs(self, since: datetime) -> list[Run]:
        return self.state.read_runs(since)

    def acquire_lock(self, holder: str, ttl: timedelta) -> Lease:
        return self.state.acquire_lock(self._target, holder, ttl)

    def renew_lock(self, lease: Lease, ttl: timedelta) -> Lease:
        return self.state.renew_lock(self._target, lease, ttl)

    def release_lock(self, lease: Lease) -> None:
        self.state.release_lock(lease)

    def lock_status(self) -> Lease | None:
        return self.state.lock_status()

    def check_mapping(self) -> MappingCheck:
        sources = tuple((field.path, field.api, field.source) for field in self.mapping.fields)
        row = self._api.first_customer()
        if row is None:
            return MappingCheck(sources, None, ())
        name = row.get(self.mapping.api["name"])
        sample = f"customer {record_id(row)}" + (f" ({name})" if isinstance(name, str) else "")
        missing = tuple((field.path, field.api) for field in self.mapping.fields if field.api not in row)
        return MappingCheck(sources, sample, missing)


def slug(name: Any) -> str:
    """A customer key made of a platform name (see the module's docstring); "" for none."""
    if not isinstance(name, str):
        return ""
    text = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-").lstrip("_")
    return text[:64].rstrip("-")


def _suffixed(key: str, live_id: str) -> str:
    suffix = re.sub(r"[^a-z0-9_-]+", "-", live_id.lower()).strip("-") or "0"
    base = key[: 64 - len(suffix) - 1].rstrip("-")
    return f"{base}-{suffix}" if base else suffix[:64]


def _document(record: LiveRecord) -> dict[str, Any]:
    """A record's document, as far as it reads (an unreadable one keeps its raw values)."""
    if isinstance(record, LiveCustomer):
        return record.customer.model_dump(by_alias=True)
    return dict(record.values)


def _json_safe(values: Mapping[str, Any]) -> Any:
    return json.loads(json.dumps(values, default=str))


def _raw_digest(values: Mapping[str, Any]) -> str:
    """A digest of values the model does not read (of any type, by their text)."""
    # (Text that is no character, half of a surrogate pair a JSON escape can spell, is hashed
    # by its code unit: the digest of every other text is its UTF-8's, as it always was.)
    body = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def _url(raw: str) -> str:
    """The API's address: https, or http to a loopback address only (credentials would travel
    in clear); never with credentials in it."""
    parts = urlsplit(raw)
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            "live.options.url: the address holds credentials; they belong in environment variables "
            "(user_env, password_env or token_env), never in reconciler.toml"
        )
    host = parts.hostname or ""
    if parts.scheme == "http" and not _loopback(host):
        raise ConfigError(
            f"live.options.url: http://{host} would send the credentials in clear; use https:// "
            "(http is allowed to a loopback address only, such as 127.0.0.1)"
        )
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"live.options.url: expected an https:// address such as {DEFAULT_URL}")
    if parts.query or parts.fragment:
        raise ConfigError("live.options.url: expected the API's address without a query or fragment")
    path = parts.path if parts.path.endswith("/") else f"{parts.path}/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _verify(url: str, ca_bundle: Any, root: Path) -> ssl.SSLContext | bool:
    if url.startswith("http://"):
        return False  # plain HTTP to loopback has no TLS to verify (and building a context costs ~70 ms)
    if ca_bundle is None:
        return ssl.create_default_context()
    path = root / str(ca_bundle)
    try:
        return ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"live.options.ca_bundle: {ca_bundle} is not a readable CA bundle ({exc.strerror or exc})") from exc


def _auth(options: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[Auth, list[str]]:
    """The credentials the options name, and the secrets among them (to keep out of messages)."""
    kind = options.get("auth", "basic")
    uses = {"basic": ("user_env", "password_env"), "jwt": ("user_env", "password_env"), "token": ("token_env",)}
    if kind not in uses:
        raise ConfigError(f'live.options.auth: expected "basic", "jwt" or "token", got {kind!r}')
    for option in ENVIRONMENT:
        if option in options and option not in uses[kind]:
            raise ConfigError(f'live.options.{option}: not used with auth = "{kind}"; remove it')
    for option in ("jwt_lifetime", "jwt_audience"):
        if option in options and kind != "jwt":
            raise ConfigError(f'live.options.{option}: only with auth = "jwt"')
    values = {option: _variable(options, option, environ) for option in uses[kind]}
    names = " and ".join(options.get(option, ENVIRONMENT[option][0]) for option in uses[kind])
    if kind == "token":
        return token_auth(values["token_env"], where=names), [values["token_env"]]
    basic = basic_auth(values["user_env"], values["password_env"], where=names)
    if kind == "basic":
        return basic, [values["password_env"]]
    lifetime = _number(options, "jwt_lifetime", DEFAULT_JWT_LIFETIME, low=1)
    return JwtAuth(basic, lifetime=lifetime, audience=str(options.get("jwt_audience", "reconciler"))), [
        values["password_env"]
    ]


def _variable(options: Mapping[str, Any], option: str, environ: Mapping[str, str]) -> str:
    variable, holds = ENVIRONMENT[option]
    variable = str(options.get(option, variable))
    value = environ.get(variable)
    if not value:
        raise ConfigError(f"live.options.{option}: the environment variable {variable} is not set; set it to {holds}")
    return value


def _number(options: Mapping[str, Any], option: str, default: Any, *, low: float, high: float | None = None) -> Any:
    value = options.get(option, default)
    if value < low or (high is not None and value > high):
        bounds = f"at least {low:g}" + (f" and at most {high:g}" if high is not None else "")
        raise ConfigError(f"live.options.{option}: must be {bounds}, not {value}")
    return value
