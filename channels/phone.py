"""The one reading of a phone number for every package: E.164 from any national or international
spelling, and the facts a reply policy needs (libphonenumber's rules, via `phonenumbers`)."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

_MOBILE = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    e164: str
    region: str | None  # ISO 3166 code of the number's country, None for non-geographic numbers
    possible: bool  # the right length for its country: what a sender's number must be
    valid: bool  # an assigned range: what a number we send to must be
    mobile: bool


def read_phone(raw: str, region: str | None) -> PhoneNumber | None:
    """`raw` read as a phone number (national forms in `region`); None when it is none at all, as
    an alphanumeric SMS sender or a SIP user name."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return PhoneNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(number),
        possible=phonenumbers.is_possible_number(number),
        valid=phonenumbers.is_valid_number(number),
        mobile=phonenumbers.number_type(number) in _MOBILE,
    )


def normalise_phone(raw: str, region: str | None) -> str | None:
    """E.164 for a possible phone number, None otherwise: the stored form of every phone identity."""
    number = read_phone(raw, region)
    return number.e164 if number is not None and number.possible else None
