"""What the test fixtures share: whether this is CI, and a free local port."""

from __future__ import annotations

import os
import socket


def in_ci() -> bool:
    """Under CI=true a missing service fails the run instead of skipping its tests."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (free when asked)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
