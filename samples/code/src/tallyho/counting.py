"""Counting items while keeping the order in which they were first seen."""


def count(items):
    """Return a dict of item -> number of times it appears, in first-seen order."""
    tally = {}
    for item in items:
        tally[item] = tally.get(item, 0) + 1
    return tally


def most_common(items, n=1):
    """The n most frequent items; ties keep first-seen order."""
    tally = count(items)
    return sorted(tally, key=lambda item: -tally[item])[:n]
