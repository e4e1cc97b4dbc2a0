"""The bad-file corpus: every failure mode of a customer file, each with its exact message.

Each file in tests/desired/bad_customers/ is validated on its own; the expected problems are
`:LINE:COLUMN: field: message` after the file's path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.desired.customers import load_customers
from reconciler.errors import InvalidInput

BAD = Path(__file__).parent / "bad_customers"

EXPECTED: dict[str, list[str]] = {
    "Bad Name.yaml": [
        ": file name 'Bad Name.yaml' is not a customer key: use lower case letters, digits, '-' and '_' (at most 64), starting with a letter or digit"
    ],
    "address-five-lines.yaml": [":3:10: address.lines: has more than 4 items"],
    "alias-bomb.yaml": [
        ":7:8: f[0]: aliases expand the document to more than 100000 values (an alias bomb?); write the values out instead"
    ],
    "bool-yes.yaml": [
        ":4:24: config.invoice.create_on_payment: 'yes' is not a boolean; write true or false (unquoted)"
    ],
    "channels-negative.yaml": [":2:11: channels: must be at least 0, not -5"],
    "channels-quoted.yaml": [":2:11: channels: '10' is text; write 10 without quotes"],
    "country-false.yaml": [":4:12: address.country: false is not text; quote it"],
    "currency-not-money.yaml": [
        ":1:11: currency: 'XAU' is an ISO 4217 code for something that is not money (a metal, a unit of account, "
        "testing, or no currency); use the currency the account is kept in, e.g. USD"
    ],
    "country-unknown.yaml": [
        ":3:12: address.country: 'XX' is not an ISO 3166-1 alpha-2 country code (upper case, e.g. US, GB, NO)"
    ],
    "currency-lower-case.yaml": [
        ":1:11: currency: 'usd' is not an ISO 4217 currency code (upper case, e.g. USD, EUR, GBP)"
    ],
    "currency-unknown.yaml": [
        ":1:11: currency: 'XYZ' is not an ISO 4217 currency code (upper case, e.g. USD, EUR, GBP)"
    ],
    "custom-tag.yaml": [
        ":3:17: config.paypal_email: the tag !secret is not allowed: a file holds only plain scalars, mappings and sequences; remove the tag"
    ],
    "daily-spend-limit-negative.yaml": [":3:22: config.daily_spend_limit: must be at least 0, not -10.00"],
    "debit-limit-five-places.yaml": [":2:14: debit_limit: 100.12345 has more than 4 decimal places"],
    "domain-invalid.yaml": [
        ":3:11: config.domain: 'sip_acme.example' is not a host name: lower case labels separated by dots, e.g. portal.example.com"
    ],
    "duplicate-key.yaml": [
        ":4:1: channels: duplicate key 'channels' (lines 2 and 4); a key may appear only once in a mapping, remove one of them"
    ],
    "empty.yaml": [": the file is empty; write the document in it"],
    "flow-speed-negative.yaml": [":2:13: flow_speed: must be at least 0, not -0.5"],
    "invoice-due-days-negative.yaml": [":4:15: config.invoice.due_days: must be at least 0, not -3"],
    "invoice-schedule-unknown.yaml": [
        ":4:15: config.invoice.schedule: 'fortnightly' is not one of: none, daily, weekly, monthly"
    ],
    "minimum-payment-negative.yaml": [":2:18: minimum_payment: must be at least 0, not -1"],
    "missing-currency.yaml": [":1:1: currency: is required"],
    "money-as-text-nonsense.yaml": [":2:14: debit_limit: 'lots' is not a decimal number"],
    "notes-control-character.yaml": [":2:8: notes: contains the control character U+0000; remove it"],
    "not-a-mapping.yaml": [":1:1: the document is a sequence, not a mapping; write it as 'key: value' lines"],
    "p-asserted-id-unknown.yaml": [
        ":3:18: config.p_asserted_id: 'always' is not one of: default, remove, if_available, required"
    ],
    "paypal-email-invalid.yaml": [
        ":3:17: config.paypal_email: 'billing-at-example.com' is not an email address: An email address must have an @-sign."
    ],
    "portal-access-bad-visibility.yaml": [":4:10: config.portal_access.cdr: 'visible' is not one of: show, hide"],
    "portal-access-bad-feature-name.yaml": [
        ":5:5: config.portal_access.Invoices!: 'Invoices!' is not a portal feature name: lower case letters, digits "
        "and '_', starting with a letter"
    ],
    "name-empty.yaml": [":1:7: name: must not be empty"],
    "notes-a-number.yaml": [":2:8: notes: 12 is not text; quote it"],
    "python-tag.yaml": [
        ":2:8: notes: the tag !!python/object/apply:os.system is not allowed: a file holds only plain scalars, mappings and sequences; remove the tag"
    ],
    "recording-retention-negative.yaml": [":3:34: config.call_recording_retention_days: must be at least 0, not -1"],
    "renamed-from-not-a-key.yaml": [
        ":2:16: renamed_from[0]: 'Old Name' is not a customer key: lower case letters, digits, '-' and '_', at most 64"
    ],
    "rtp-firewall-unknown.yaml": [":3:17: config.rtp_firewall: 'open' is not one of: locked, unlocked"],
    "status-unknown.yaml": [":2:9: status: 'suspended' is not one of: active, inactive, penalty, pending_approval"],
    "stir-shaken-unknown.yaml": [":3:28: config.stir_shaken_attestation: 'D' is not one of: A, B, C"],
    "syntax-error.yaml": [
        ":3:11: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 11); check the indentation, colons and quotes here"
    ],
    "tag-with-space.yaml": [
        ":3:21: config.tags[1]: 'us east' is not a tag: letters, digits and _ . : / - without spaces, at most 64"
    ],
    "tags-twice.yaml": [":3:9: config.tags: 'wholesale' is listed twice"],
    "tax-over-100.yaml": [":2:14: tax_percent: must be at most 100, not 100.5"],
    "timeout-zero.yaml": [":3:8: timeouts.pdd: must be at least 1, not 0"],
    "timezone-unknown.yaml": [
        ":3:13: day_time_restriction.timezone: 'Europe/Atlantis' is not an IANA time zone (e.g. Europe/London, UTC)"
    ],
    "toml-duplicate-key.toml": [":3:1: channels: key 'channels' is set twice (lines 2 and 3); keep only one"],
    "toml-status-unknown.toml": [":2:10: status: 'paused' is not one of: active, inactive, penalty, pending_approval"],
    "toml-syntax-error.toml": [":2:12: TOML syntax error: invalid value; fix the syntax here"],
    "toml-unknown-field.toml": [":4:1: config.tag: unknown field 'tag'; did you mean 'tags'?"],
    "topup-currency-twice.yaml": [":2:19: topup_currencies: 'USD' is listed twice"],
    "two-documents.yaml": [
        ":2:1: a second YAML document starts here; a file holds exactly one document, remove the '---' line and what follows or move it to its own file"
    ],
    "unknown-field.yaml": [":2:1: chanels: unknown field 'chanels'; did you mean 'channels'?"],
    "unknown-nested-field.yaml": [":3:3: config.invoce: unknown field 'invoce'; did you mean 'invoice'?"],
    "vars-invalid-toml.yaml": [":6:21: config.vars: invalid TOML on line 3 of the text: Invalid value"],
    "vars-toml-number-too-long.yaml": [
        ":3:9: config.vars: the TOML text holds a number too long to read (over 4300 digits); shorten it"
    ],
    "vars-toml-too-deep.yaml": [
        ":3:9: config.vars: the TOML text nests too deep to read (over 400 levels, or a key of over 1000 parts); flatten it"
    ],
    "verification-string.yaml": [":3:18: verification.require_email: 'true' is text; write true without quotes"],
    "verification-old-name.yaml": [
        ":3:3: verification.email: 'email' is now called 'require_email' (the platform's Email Verification "
        "option forces the customer to verify their email before they can dial); rename it"
    ],
    "website-ftp.yaml": [
        ":3:12: config.website: 'ftp://files.example.com' is not an http(s) URL: URL scheme should be 'http' or 'https'"
    ],
    "window-bad-time.yaml": [
        ":6:11: day_time_restriction.windows[0].to: '25:00' is not a time of day as HH:MM between 00:00 and 24:00"
    ],
    "window-empty.yaml": [
        ":5:7: day_time_restriction.windows[0]: window 08:00-08:00 is empty; use 00:00-24:00 for the whole day"
    ],
    "window-unknown-day.yaml": [
        ":7:19: day_time_restriction.windows[0].days[1]: 'funday' is not one of: mon, tue, wed, thu, fri, sat, sun"
    ],
    "windows-none.yaml": [":4:12: day_time_restriction.windows: needs at least 1 item"],
}


def test_every_bad_file_has_an_expectation() -> None:
    assert sorted(path.name for path in BAD.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_is_refused_with_its_exact_message(name: str) -> None:
    path = BAD / name
    with pytest.raises(InvalidInput) as caught:
        load_customers([path])
    assert [str(problem).removeprefix(str(path)) for problem in caught.value.problems] == EXPECTED[name]
