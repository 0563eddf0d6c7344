# SPDX-License-Identifier: GPL-2.0-only
# This file keeps the licence it was contributed under.
"""A line parser kept for compatibility with old tally files."""


def parse_line(line):
    name, _, value = line.partition("=")
    return name.strip(), int(value.strip() or 0)
