"""Checking a provider's `[live.options]` table, the same way for every provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.errors import ConfigError


def check_options(provider: str, options: Mapping[str, Any], known: Mapping[str, type]) -> None:
    """ConfigError for an option the provider does not know, or one of the wrong type."""
    for option, value in options.items():
        if option not in known:
            raise ConfigError(
                f"live.options.{option}: the {provider} provider has no option '{option}'; "
                f"its options: {', '.join(sorted(known))}"
            )
        if not isinstance(value, known[option]):
            raise ConfigError(
                f"live.options.{option}: expected a {known[option].__name__}, got {type(value).__name__}"
            )
