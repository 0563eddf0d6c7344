"""Every failure a user can cause, as one typed exception; the CLI turns each into one line.

    GovcatError                      exit 1 unless stated
    ├── ConfigError                  settings or arguments unusable            (exit 2)
    ├── DatabaseUnreachable          cannot connect; URL shown with the password masked (exit 3)
    ├── NotFound                     no such source / run / host / document  (exit 4)
    ├── AlreadyExists                duplicate slug, same policy version...  (exit 5)
    ├── InvalidInput                 a value is not acceptable
    │   ├── InvalidLicense           not SPDX; carries the closest valid ids
    │   ├── RegistryError            a registry file has bad rows; lists every one
    │   └── InvalidMetadata          release metadata invalid or incomplete; lists every problem
    ├── IntegrityError               the catalog's own checks failed (audit chain broken) (exit 6)
    │   └── ChecksFailed             a verification found problems; lists every one
    └── Busy                         another live command holds the lock; names it     (exit 7)
"""

from __future__ import annotations

from collections.abc import Sequence


class GovcatError(Exception):
    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(GovcatError):
    exit_code = 2


class DatabaseUnreachable(GovcatError):
    exit_code = 3


class NotFound(GovcatError):
    exit_code = 4


class AlreadyExists(GovcatError):
    exit_code = 5


class InvalidInput(GovcatError):
    exit_code = 2


class InvalidLicense(InvalidInput):
    def __init__(self, message: str, suggestions: Sequence[str] = ()):
        super().__init__(message)
        self.suggestions = tuple(suggestions)


class RegistryError(InvalidInput):
    """A registry import failed; `problems` holds one line per bad row."""

    def __init__(self, path: str, problems: Sequence[str]):
        self.path = path
        self.problems = list(problems)
        head = f"{path}: {len(self.problems)} bad row(s), nothing imported"
        super().__init__(head)

    def lines(self) -> list[str]:
        return [self.message, *(f"  {p}" for p in self.problems)]


class InvalidMetadata(InvalidInput):
    """A release metadata file is invalid or incomplete; `lines()` lists every problem."""

    def __init__(self, head: str, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__(head)

    def lines(self) -> list[str]:
        return [self.message, *(f"  {p}" for p in self.problems)]


class IntegrityError(GovcatError):
    exit_code = 6


class ChecksFailed(IntegrityError):
    """A verification (a release folder, the shards) found problems; `lines()` lists them."""

    def __init__(self, head: str, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__(head)

    def lines(self) -> list[str]:
        return [self.message, *(f"  {p}" for p in self.problems)]


class Busy(GovcatError):
    """Another live command holds the lock on a source, run or release (catalog/locks.py)."""

    exit_code = 7


def translate(exc: BaseException, *, url: str | None = None) -> GovcatError:
    """Any exception as the typed error a user should read: one line, the right exit code.

    The one place where errors of the libraries below (SQLAlchemy and psycopg, pyarrow, the
    library packages' own ValueErrors, the operating system) meet the tree above. An error
    that means nothing to a user becomes an "internal error" naming its type; the CLI logs
    its traceback to a file, never to the terminal.
    """
    if isinstance(exc, GovcatError):
        return exc
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    try:
        from sqlalchemy.exc import DBAPIError, OperationalError
        from sqlalchemy.exc import InterfaceError as SAInterfaceError
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        DBAPIError = OperationalError = SAInterfaceError = ()  # type: ignore[assignment]
    if isinstance(exc, OperationalError | SAInterfaceError) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated):
        from catalog.db import masked

        orig = getattr(exc, "orig", None)
        reason = (str(orig or exc).strip().splitlines() or ["connection lost"])[0][:300]
        where = masked(url) if url else "the catalog database"
        return DatabaseUnreachable(f"lost the connection to {where}: {reason}; nothing after "
                                   "the last completed step was kept — run the command again")
    if isinstance(exc, FileNotFoundError):
        return NotFound(f"{exc.filename or first}: no such file or directory")
    if isinstance(exc, PermissionError):
        return ConfigError(f"{exc.filename or first}: permission denied")
    if isinstance(exc, OSError):
        return ConfigError(f"{exc.filename or 'a file'}: {exc.strerror or first}")
    if isinstance(exc, ValueError):  # the library packages' error trees are ValueErrors
        return InvalidInput(first)
    return GovcatError(f"internal error ({type(exc).__name__}: {first})")


__all__ = [
    "AlreadyExists",
    "Busy",
    "ChecksFailed",
    "ConfigError",
    "DatabaseUnreachable",
    "GovcatError",
    "IntegrityError",
    "InvalidInput",
    "InvalidMetadata",
    "InvalidLicense",
    "NotFound",
    "RegistryError",
    "translate",
]
