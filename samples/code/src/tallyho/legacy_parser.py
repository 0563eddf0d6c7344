# SPDX-License-Identifier: GPL-2.0-only
# This file was contributed under the GPL and keeps that licence.
"""A line parser kept for compatibility with old tally files."""


def parse_line(line):
    name, _, value = line.partition("=")
    return name.strip(), int(value.strip() or 0)
