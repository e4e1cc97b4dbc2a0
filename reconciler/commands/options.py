"""Options several commands share, declared one way."""

from __future__ import annotations

import argparse
import datetime as dt


def parse_instant(text: str) -> dt.datetime:
    """`--at`: an ISO 8601 instant with a zone (2026-12-24T18:00:00Z), or a date (midnight UTC)."""
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        instant = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not an instant: write 2026-12-24T18:00:00Z or a date, 2026-12-24"
        ) from None
    if instant.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"'{text}' has no time zone: add Z for UTC or an offset such as +01:00"
        )
    try:
        return instant.astimezone(dt.UTC)
    except OverflowError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is out of range: the instant in UTC falls before year 1 or after 9999"
        ) from None


def add_at_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at", type=parse_instant, default=None, metavar="INSTANT",
        help="evaluate desired state at this instant (ISO 8601 with zone, or a date); default: now",
    )


def add_customer_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--customer", action="append", dest="customers", metavar="KEY",
        help="only this customer (repeatable)",
    )


def add_override_options(parser: argparse.ArgumentParser) -> None:
    """The rules an operator may set aside for one customer; each is recorded in the audit."""
    parser.add_argument(
        "--lift-penalty", action="append", default=[], metavar="KEY",
        help="write the file's status over a penalty the platform set for this customer (repeatable)",
    )
    parser.add_argument(
        "--repair", action="append", default=[], metavar="KEY",
        help="overwrite this customer's unreadable live record from its file (repeatable)",
    )
