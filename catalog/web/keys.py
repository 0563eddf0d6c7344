"""The key that signs session cookies: GOVCAT_SECRET_KEY, else one generated once under the
data root, readable by its owner only (0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from catalog.errors import ConfigError
from common.atomic import atomic_path

MIN_KEY = 32  # characters of an operator-given key


def secret_key(path: Path, *, env: str | None = None) -> str:
    given = os.environ.get("GOVCAT_SECRET_KEY") if env is None else env
    if given:
        if len(given) < MIN_KEY:
            raise ConfigError(f"GOVCAT_SECRET_KEY: {len(given)} characters; use at least "
                              f"{MIN_KEY} random ones (e.g. `python -c 'import secrets; "
                              "print(secrets.token_urlsafe(48))'`)")
        return given
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{path}: readable by others (mode {path.stat().st_mode & 0o777:o});"
                              f" `chmod 600 {path}` or delete it to make a new key")
        key = path.read_text(encoding="utf-8").strip()
        if len(key) >= MIN_KEY:
            return key
    key = secrets.token_urlsafe(48)
    # The temporary file is created 0600, so the key is never readable by others, not even
    # before the rename.
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key + "\n")
    return key
