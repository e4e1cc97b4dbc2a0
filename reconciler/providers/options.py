"""Checking a provider's `[live.options]` table, the same way for every provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.errors import ConfigError
from reconciler.model.messages import closest
from reconciler.providers.base import ProviderConfig

# An option that takes a number takes an integer or a float alike (TOML writes 30 and 30.0).
NUMBER = (int, float)
OptionType = type | tuple[type, ...]


def check_options(provider: str, options: Mapping[str, Any], known: Mapping[str, OptionType]) -> None:
    """ConfigError for an option the provider does not know, or one of the wrong type."""
    for option, value in options.items():
        if option not in known:
            close = closest(option, known)
            hint = f"did you mean '{close}'? " if close else ""
            raise ConfigError(
                f"live.options.{option}: the {provider} provider has no option '{option}'; "
                f"{hint}its options: {', '.join(sorted(known))}"
            )
        expected = known[option]
        # TOML's true is no number, though Python's bool is an int.
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise ConfigError(f"live.options.{option}: expected {_kind(expected)}, got {type(value).__name__}")


def _kind(expected: OptionType) -> str:
    return "a number" if expected == NUMBER else f"a {getattr(expected, '__name__', expected)}"


def refuse_api_settings(provider: str, config: ProviderConfig | None) -> None:
    """ConfigError for settings only an API provider uses, given to a store that keeps every
    field in its own columns and its state in its own database."""
    if config is None:
        return
    given = [
        section for section, value in (
            ("[live.mapping]", config.mapping), ("[live.values]", config.values),
            ("[live.account_manager_ids]", config.account_manager_ids),
        ) if value
    ]
    if given:
        section = given[0]
        raise ConfigError(
            f"{section}: the {provider} provider keeps every field under its own name; remove {section} "
            "from reconciler.toml (it is for providers of a remote API, such as connexcs)"
        )
    if config.state is not None:
        raise ConfigError(
            f"[state]: the {provider} provider keeps its state (lock, audit) in its own database, in the "
            "transaction of each write; remove [state] from reconciler.toml"
        )
