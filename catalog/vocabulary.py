"""The values a source's enumerated fields take, as Literal types and as tuples.

Kept apart from catalog/models.py so that a command can name them (in its `--help`, say)
without loading the ORM and pydantic, which cost more than the rest of a quick command.
"""

from __future__ import annotations

from typing import Literal, get_args

SourceKind = Literal["web-crawl", "books", "code", "forum", "wiki", "papers", "other"]
TosVerdict = Literal[
    "unrestricted",
    "conditional",
    "no-ai",
    "no-scraping",
    "no-scraping-and-ai",
    "non-commercial-only",
    "unknown",
]
RobotsHandling = Literal["respected", "not-applicable", "unknown"]
PersonalData = Literal["yes", "no", "unknown"]

SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)
TOS_VERDICTS: tuple[str, ...] = get_args(TosVerdict)
ROBOTS_HANDLING: tuple[str, ...] = get_args(RobotsHandling)
PERSONAL_DATA: tuple[str, ...] = get_args(PersonalData)
SOURCE_STATUSES = ("pending", "approved", "rejected")
