"""The SQL store's column types: money stays exact, time stays UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from reconciler.providers.schema import Money, UtcDateTime, canonical_money


@pytest.mark.parametrize(
    ("amount", "spelled"),
    [("500.0000", "500"), ("0.5000", "0.5"), ("0E-4", "0"), ("-250.50", "-250.5"), ("1E+3", "1000"),
     ("0.0001", "0.0001"), ("12345678901234.5678", "12345678901234.5678")],
)
def test_canonical_money_is_the_shortest_exact_spelling(amount: str, spelled: str) -> None:
    assert str(canonical_money(Decimal(amount))) == spelled
    assert canonical_money(Decimal(amount)) == Decimal(amount)


def test_sqlite_keeps_money_as_integer_ten_thousandths() -> None:
    money, dialect = Money(), sqlite.dialect()
    assert money.process_bind_param(Decimal("12.3456"), dialect) == 123456
    assert money.process_result_value(123456, dialect) == Decimal("12.3456")
    with pytest.raises(ValueError, match=r"at most 4 decimal places: 0\.00001"):
        money.process_bind_param(Decimal("0.00001"), dialect)


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_a_float_is_never_stored_as_money(dialect: object) -> None:
    with pytest.raises(TypeError, match=r"money must be a Decimal, not float: 0\.1"):
        Money().process_bind_param(0.1, dialect)  # type: ignore[arg-type]


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="a naive datetime cannot be stored"):
        UtcDateTime().process_bind_param(datetime(2026, 1, 1), sqlite.dialect())
    stored = UtcDateTime().process_bind_param(datetime(2026, 1, 1, tzinfo=UTC), sqlite.dialect())
    assert stored == datetime(2026, 1, 1)
    assert UtcDateTime().process_result_value(stored, sqlite.dialect()) == datetime(2026, 1, 1, tzinfo=UTC)
