"""The customer model: money exact, values as the platform means them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.model.customer import Customer, Window
from reconciler.model.fields import canonical_document


def test_money_is_decimal_and_keeps_its_digits() -> None:
    customer = Customer.model_validate({"currency": "USD", "debit_limit": Decimal("25000.10"), "tax_percent": "7.25"})
    assert customer.debit_limit == Decimal("25000.10")
    assert canonical_document(customer)["debit_limit"] == "25000.10"
    assert customer.tax_percent == Decimal("7.25")


def test_a_float_is_refused_for_money() -> None:
    with pytest.raises(ValidationError) as caught:
        Customer.model_validate({"currency": "USD", "debit_limit": 0.1})
    assert caught.value.errors()[0]["msg"] == (
        "a float cannot hold money exactly; write the amount as a decimal number"
    )


def test_debit_limit_may_be_negative_for_a_buffer() -> None:
    assert Customer.model_validate({"currency": "GBP", "debit_limit": Decimal("-50")}).debit_limit == -50


def test_defaults_are_the_platforms() -> None:
    customer = Customer.model_validate({"currency": "EUR"})
    assert (customer.channels, customer.flow_speed, customer.status) == (0, 0, "active")
    assert customer.config.invoice.schedule == "none"
    assert customer.day_time_restriction is None


def test_a_window_may_cross_midnight() -> None:
    window = Window.model_validate({"from": "22:00", "to": "06:00"})
    assert (window.start, window.end) == ("22:00", "06:00")


def test_a_toml_local_time_is_a_window_boundary() -> None:
    window = Window.model_validate({"from": dt.time(8, 30), "to": dt.time(17, 30)})
    assert (window.start, window.end) == ("08:30", "17:30")


def test_a_toml_time_with_seconds_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        Window.model_validate({"from": dt.time(8, 30, 15), "to": "17:30"})
    assert caught.value.errors()[0]["msg"] == "a window boundary is a time of day as HH:MM"


def test_a_window_cannot_start_at_end_of_day() -> None:
    with pytest.raises(ValidationError) as caught:
        Window.model_validate({"from": "24:00", "to": "06:00"})
    assert caught.value.errors()[0]["msg"] == "a window cannot start at 24:00; start it at 00:00"


def test_website_is_kept_exactly_as_written() -> None:
    customer = Customer.model_validate({"currency": "USD", "config": {"website": "https://acme.example"}})
    assert customer.config.website == "https://acme.example"


def test_the_model_is_frozen() -> None:
    customer = Customer.model_validate({"currency": "USD"})
    with pytest.raises(ValidationError):
        customer.channels = 5  # type: ignore[misc]


_CONTROLS = "\x00\x01\x08\x0b\x0c\x0e\x1b\x1f\x7f\ud800\udfff"


def _is_control(character: str) -> bool:
    if "\ud800" <= character <= "\udfff":  # half of a surrogate pair
        return True
    return character == "\x7f" or ("\x00" <= character < " " and character not in "\t\n\r")


@settings(max_examples=500, deadline=None)
@example("\ud801\x1f")  # a surrogate before a control: the first is named
@example("\x7fé\x1b")
@given(st.text(alphabet=st.characters(codec=None) | st.sampled_from(_CONTROLS + "\t\n\r\u0085\u2028é€😀"), max_size=40))
def test_a_text_is_refused_for_exactly_the_control_characters_it_holds(text: str) -> None:
    # Tab, newline and carriage return are text; any other control character, DEL and half
    # of a surrogate pair are not, wherever they stand and whatever stands beside them.
    first = next((character for character in text if _is_control(character)), None)
    if first is None:
        assert Customer.model_validate({"currency": "USD", "notes": text}).notes == text
        return
    with pytest.raises(ValidationError) as caught:
        Customer.model_validate({"currency": "USD", "notes": text})
    assert caught.value.errors()[0]["msg"] == f"contains the control character U+{ord(first):04X}; remove it"


# Addresses near the plain kind and past its edges: lengths, dots, case, characters
# email-validator takes that the plain kind does not, special-use names, IDNA labels.
_LOCAL = (
    st.from_regex(r"[A-Za-z0-9_+-]{1,30}(\.[A-Za-z0-9_+-]{1,30}){0,2}", fullmatch=True)
    | st.text(alphabet="abcXYZ019._+-!#~\"é ", max_size=70)
)
_LABEL = (
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?", fullmatch=True)
    | st.text(alphabet="abcdefghijklmnopqrstuvwxyzAZ0123456789-_é", max_size=70)
)
_ADDRESS = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join([*labels, tld])}",
    _LOCAL,
    st.lists(_LABEL, min_size=0, max_size=4),
    st.sampled_from(["example", "com", "test", "local", "onion", "arpa", "invalid", "localhost", "c0m", "x", "Org", "xn--p1ai", "a" * 64]),
)


@settings(max_examples=1500, deadline=None)
@example("billing@northwind-voip.example")
@example("billing@NORTHWIND.example")  # the domain lower-cased by email-validator
@example("a@b.test")  # a special-use name
@example("a@xn--80ak6aa92e.com")  # an IDNA label
@example("a..b@example.com")
@example("." + "a" * 63 + "@example.com")
@example("a" * 65 + "@example.com")
@example("a@" + ".".join(["a" * 63] * 4) + ".com")  # over 254 characters
@given(_ADDRESS)
def test_an_e_mail_address_is_judged_as_email_validator_judges_it(address: str) -> None:
    """The plainest addresses are taken as they are, without email-validator
    (`types._PLAIN_EMAIL`); every one of them is one it accepts and gives back unchanged, and
    any other address is its verdict, message for message."""
    from pydantic import EmailStr, TypeAdapter

    from reconciler.model.types import _PLAIN_EMAIL

    try:
        expected: str | None = TypeAdapter(EmailStr).validate_python(address)
        message = None
    except ValidationError as exc:
        expected, message = None, exc.errors()[0]["msg"]
    if _PLAIN_EMAIL.fullmatch(address):
        assert expected == address
    try:
        found = Customer.model_validate({"currency": "USD", "config": {"paypal_email": address}}).config.paypal_email
    except ValidationError as exc:
        assert (None, exc.errors()[0]["msg"]) == (expected, message)
    else:
        assert found == expected


def test_a_plain_e_mail_address_is_taken_without_email_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    """~20-40 µs a customer: 1.7 s of CPU over a cold fleet of 100,000."""
    import email_validator

    asked: list[str] = []

    def validate_email(address: str, **options: object) -> object:
        asked.append(address)
        raise email_validator.EmailNotValidError("asked")

    monkeypatch.setattr(email_validator, "validate_email", validate_email)
    assert Customer.model_validate({"currency": "USD", "config": {"paypal_email": "ap@sunrise-mobile.example"}})
    with pytest.raises(ValidationError):
        Customer.model_validate({"currency": "USD", "config": {"paypal_email": "AP@Sunrise-Mobile.example"}})
    assert asked == ["AP@Sunrise-Mobile.example"]
