"""customers.d/: one customer a file, its stem the key. Loads and validates the whole folder.

Every problem in every file is collected and raised at once, so one run of `validate`
shows a reviewer everything that is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.config import Catalogs
from reconciler.documents.loader import SUFFIXES as SUFFIXES
from reconciler.documents.loader import Listing, Load, LoadedDocument, document_paths, load_document
from reconciler.documents.validation import validate
from reconciler.errors import InvalidInput, Problem
from reconciler.gc_pause import gc_paused
from reconciler.model.customer import Customer
from reconciler.model.types import KEY_RE


@dataclass(frozen=True)
class CustomerFile:
    """A validated customer and the document it was read from (for positions and overlays)."""

    key: str
    customer: Customer
    document: LoadedDocument


def customer_paths(directory: Path, root: Path | None = None) -> Listing:
    """Customer files in `directory`, sorted by name; dotfiles and other suffixes are not customers.; every other entry a problem (see `document_paths`)."""
    return document_paths(directory, root)


def load_customers(
    paths: Iterable[Path], catalogs: Catalogs | None = None, *, load: Load = load_document
) -> dict[str, CustomerFile]:
    """Load, validate and cross-check customer files; raise InvalidInput listing every problem."""
    problems: list[Problem] = []
    loaded: dict[str, CustomerFile] = {}
    with gc_paused():
        for path in paths:
            problems.extend(_load_one(path, loaded, load))
    problems.extend(_cross_check(loaded.values()))
    if catalogs is not None:
        for customer_file in loaded.values():
            problems.extend(check_catalogs(customer_file, catalogs))
    if problems:
        raise InvalidInput(problems)
    return loaded


def _load_one(path: Path, loaded: dict[str, CustomerFile], load: Load) -> list[Problem]:
    key = path.stem
    if not KEY_RE.match(key):
        return [
            Problem(
                path, None, None, "",
                f"file name '{path.name}' is not a customer key: use lower case letters, digits, "
                "'-' and '_' (at most 64), starting with a letter or digit",
            )
        ]
    if key in loaded:
        first = loaded[key].document.path
        return [
            Problem(
                path, None, None, "",
                f"customer '{key}' is also defined in {first}; keep one file per customer",
            )
        ]
    try:
        document = load(path)
    except InvalidInput as exc:
        return list(exc.problems)
    result = customer_file(key, document)
    if isinstance(result, list):
        return result
    loaded[key] = result
    return []


def customer_file(key: str, document: LoadedDocument) -> CustomerFile | list[Problem]:
    """The customer DOCUMENT defines as the file of KEY (named by its key when it gives no
    name), or the problems that make it none."""
    customer = validate(Customer, document)
    if isinstance(customer, list):
        return customer
    if customer.name is None:
        customer = customer.model_copy(update={"name": key})
    return CustomerFile(key, customer, document)


def _cross_check(customer_files: Iterable[CustomerFile]) -> list[Problem]:
    """Rules that span files: unique display names, unambiguous renames."""
    problems: list[Problem] = []
    by_name: dict[str, CustomerFile] = {}
    claimed: dict[str, CustomerFile] = {}
    files = list(customer_files)
    keys = {customer_file.key for customer_file in files}
    for customer_file in files:
        name = customer_file.customer.name or customer_file.key
        other = by_name.setdefault(name.casefold(), customer_file)
        if other is not customer_file:
            problems.append(
                _problem(
                    customer_file, ("name",),
                    f"name '{name}' is already used by customer '{other.key}' ({other.document.path}); "
                    "names must be unique, ignoring case",
                )
            )
        for old_key in customer_file.customer.renamed_from:
            loc = _item_loc(customer_file, ("renamed_from",), old_key)
            if old_key in keys:
                problems.append(
                    _problem(customer_file, loc, f"'{old_key}' is still a customer file; a renamed customer has one key")
                )
            previous = claimed.setdefault(old_key, customer_file)
            if previous is not customer_file:
                problems.append(
                    _problem(customer_file, loc, f"'{old_key}' is also claimed by customer '{previous.key}'")
                )
    return problems


# Fields whose 0 means something the platform does not document: a file should say.
UNDOCUMENTED_ZERO = ("channels", "flow_speed")


def unset_fields(document: Mapping[str, Any]) -> tuple[str, ...]:
    """Of UNDOCUMENTED_ZERO, the fields a customer file's DOCUMENT leaves unset."""
    return tuple(name for name in UNDOCUMENTED_ZERO if name not in document)


def unset_warnings(unset: Iterable[tuple[Path, Iterable[str]]]) -> list[Problem]:
    """A warning for each field of UNDOCUMENTED_ZERO a customer file leaves unset (it would be
    0): UNSET gives them as (file, `unset_fields` of it)."""
    return [
        Problem(
            path, None, None, name,
            f"not set, so the customer gets {name} 0, and what 0 means on the platform is not documented; "
            "set it explicitly",
        )
        for path, names in unset
        for name in names
    ]


def check_catalogs(customer_file: CustomerFile, catalogs: Catalogs) -> list[Problem]:
    """Values that must come from a closed list in reconciler.toml, when that list is given."""
    return [
        _problem(customer_file, _item_loc(customer_file, loc, value) if loc[-1] == "tags" else loc, message)
        for loc, value, message in catalog_violations(customer_file.customer, catalogs)
    ]


# What the catalogs of reconciler.toml constrain in a customer: reseller, account manager,
# portal domain, invoice template, and the tags.
CatalogValues = tuple[str | None, str | None, str | None, str | None, tuple[str, ...]]


def catalog_values(customer: Customer) -> CatalogValues:
    config = customer.config
    return (config.reseller, config.account_manager, config.domain, config.invoice.template, tuple(config.tags))


def catalog_violations(customer: Customer, catalogs: Catalogs) -> list[tuple[tuple[str, ...], str, str]]:
    """(field, value, message) for each value of CUSTOMER outside its catalog; for a tag the
    field is the tag list's."""
    return violations_of(catalog_values(customer), catalogs)


def violations_of(values: CatalogValues, catalogs: Catalogs) -> list[tuple[tuple[str, ...], str, str]]:
    """`catalog_violations` of a customer whose `catalog_values` are VALUES."""
    reseller, account_manager, domain, template, tags = values
    checks: list[tuple[tuple[str, ...], str | None, list[str] | None, str]] = [
        (("config", "reseller"), reseller, catalogs.resellers, "resellers"),
        (("config", "account_manager"), account_manager, catalogs.account_managers, "account_managers"),
        (("config", "domain"), domain, catalogs.domains, "domains"),
        (("config", "invoice", "template"), template, catalogs.invoice_templates, "invoice_templates"),
    ]
    checks += [(("config", "tags"), tag, catalogs.tags, "tags") for tag in tags]
    return [
        (loc, value, f"'{value}' is not in catalogs.{catalog} of reconciler.toml ({_listing(allowed)})")
        for loc, value, allowed, catalog in checks
        if allowed is not None and value is not None and value not in allowed
    ]


def _listing(values: list[str]) -> str:
    return "one of: " + ", ".join(values) if values else "the catalog is empty"


def _item_loc(customer_file: CustomerFile, loc: tuple[str, ...], item: str) -> tuple[str | int, ...]:
    """Where ITEM of the set at LOC stands as the file writes it (the model keeps sets sorted)."""
    written: Any = customer_file.document.data
    for part in loc:
        written = written.get(part) if isinstance(written, dict) else None
    if isinstance(written, list) and item in written:
        return (*loc, written.index(item))
    return loc


def _problem(customer_file: CustomerFile, loc: tuple[str | int, ...], message: str) -> Problem:
    return customer_file.document.problem(loc, message)
