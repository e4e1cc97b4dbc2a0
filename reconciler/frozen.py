"""Values with slots, frozen and equal by content as a frozen dataclass is, for the values a
plan of 100,000 creates holds one of each (`plan.CustomerChange`, `providers.base.Write`):
what such a value says may be held packed and made only when asked for, so it is compared
by what it says (`_values`), not by the slots that hold it."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any


class Frozen:
    """A value whose fields are set once, by `_set`, and compared and hashed by `_values`;
    setting or deleting one afterwards raises `FrozenInstanceError`, as a frozen dataclass's."""

    __slots__ = ()

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, Frozen):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
