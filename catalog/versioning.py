"""The code version recorded in runs and manifests."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def code_version() -> str:
    from importlib import metadata  # slow to import; only runs and manifests need it

    try:
        version = metadata.version("govcat")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, timeout=5, check=True)
        return f"{version}+g{commit.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        return version
