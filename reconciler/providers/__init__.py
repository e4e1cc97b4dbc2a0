"""Live providers by name: the built-ins, and plug-ins registered under the
`reconciler.providers` entry point group (name = "package.module:ProviderClass").

A built-in name cannot be taken over by a plug-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from reconciler.errors import ProviderError
from reconciler.gc_pause import gc_paused
from reconciler.providers.base import Provider, ProviderConfig

ENTRY_POINT_GROUP = "reconciler.providers"

# Name -> "module:class", imported only when chosen (postgresql needs psycopg).
BUILTIN: dict[str, str] = {
    "sqlite": "reconciler.providers.sqlite:SqliteProvider",
    "postgresql": "reconciler.providers.postgresql:PostgresqlProvider",
    "connexcs": "reconciler.providers.connexcs:ConnexcsProvider",
}


def _plugins() -> dict[str, EntryPoint]:
    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP) if point.name not in BUILTIN}


def available_providers() -> list[str]:
    return sorted({*BUILTIN, *_plugins()})


def provider_class(name: str) -> type[Provider]:
    """The class registered as `name`; ProviderError if none is, or it does not load."""
    if name in BUILTIN:
        module, _, attribute = BUILTIN[name].partition(":")
        with gc_paused():  # SQLAlchemy's modules: ~40,000 objects, none of them garbage
            loaded: object = getattr(import_module(module), attribute)
    else:
        point = _plugins().get(name)
        if point is None:
            raise ProviderError(f"unknown provider '{name}'; available: {', '.join(available_providers())}")
        try:
            loaded = point.load()
        except Exception as exc:  # a broken plug-in is the user's to fix, not our bug
            raise ProviderError(f"provider '{name}' ({point.value}) failed to load: {exc}") from exc
    if not (isinstance(loaded, type) and issubclass(loaded, Provider)):
        raise ProviderError(f"provider '{name}' is not a reconciler.providers.base.Provider subclass")
    return loaded


def create_provider(
    name: str,
    options: Mapping[str, Any],
    *,
    environ: Mapping[str, str],
    root: Path,
    config: ProviderConfig | None = None,
) -> Provider:
    """The provider `name`, configured by reconciler.toml's `[live.options]` and the rest of
    CONFIG (an API provider's mapping and state store).

    Credentials come from `environ` through variables the options name; ConfigError when
    an option or variable is wrong.
    """
    return provider_class(name).from_options(options, environ=environ, root=root, config=config)
