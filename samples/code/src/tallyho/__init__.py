"""Count things, tidily."""

from tallyho.counting import count, most_common

__all__ = ["count", "most_common"]
