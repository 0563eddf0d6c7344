"""Which phone numbering regions a jurisdiction names, for national phone number formats.

`phone_regions(["EU", "US"])` is the 27 member states then the US. Names: "EU", "EEA" (the EU
with Iceland, Liechtenstein and Norway), "UK" (GB), or any ISO 3166 region code that
libphonenumber has a numbering plan for ("US", "CH", "JP", ...).

Personal data is personal wherever a number was issued, so the pii stage recognizes the
national formats of `DEFAULT_JURISDICTIONS` whatever jurisdiction a policy is written for;
a stage option names others. International numbers (`+CC …`) are recognized for every country
whatever the jurisdictions.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["DEFAULT_JURISDICTIONS", "JURISDICTION_REGIONS", "JurisdictionError", "phone_regions"]

DEFAULT_JURISDICTIONS = ("EEA", "UK", "CH", "US", "CA")

_EU = (
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
)
JURISDICTION_REGIONS: dict[str, tuple[str, ...]] = {
    "EU": _EU,
    "EEA": (*_EU, "IS", "LI", "NO"),
    "UK": ("GB",),
}


class JurisdictionError(ValueError):
    """A jurisdiction that names no phone numbering region, or no jurisdiction at all."""


def phone_regions(jurisdictions: Sequence[str]) -> tuple[str, ...]:
    """The regions of `jurisdictions`, in order, each once."""
    import phonenumbers  # 25 ms; the stage registry imports this module

    if isinstance(jurisdictions, str) or not jurisdictions:
        raise JurisdictionError(f"jurisdictions must be a non-empty list, got {jurisdictions!r}")
    regions: list[str] = []
    for name in jurisdictions:
        code = str(name).strip().upper()
        if code in JURISDICTION_REGIONS:
            regions += JURISDICTION_REGIONS[code]
        elif code in phonenumbers.SUPPORTED_REGIONS:
            regions.append(code)
        else:
            raise JurisdictionError(
                f"jurisdiction {name!r} names no phone region; use EU, EEA, UK or an "
                "ISO 3166 region code such as US, CH, JP"
            )
    return tuple(dict.fromkeys(regions))
