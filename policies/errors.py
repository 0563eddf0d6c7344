"""Every failure a policy author or caller can cause, as one typed exception.

    ValueError
    └── PolicyError              one problem, located: FILE:LINE:COL: rule RULE: message
        ├── InvalidPolicy        a policy file failed validation; `.errors` holds every problem
        └── UnknownName          an unknown stage, pack or combining algorithm; lists the known ones

Positions are 1-based (line and column as an editor shows them); `None` when a problem has
no place in a file (a pack that does not exist, a stage name given by a caller).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class PolicyError(ValueError):
    """One problem with a policy, with where it is."""

    def __init__(
        self,
        message: str,
        *,
        file: str = "<policy>",
        rule_id: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ):
        self.message = message
        self.file = file
        self.rule_id = rule_id
        self.line = line
        self.column = column
        super().__init__(self._one_line())

    def _one_line(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column if self.column is not None else 1}"
        rule = f" rule {self.rule_id}:" if self.rule_id else ""
        return f"{where}:{rule} {self.message}"

    def __str__(self) -> str:
        return self._one_line()

    def __reduce__(self):  # keep keyword-only fields across processes (Ray, multiprocessing)
        return (_rebuild, (type(self), self.message, self.file, self.rule_id, self.line,
                           self.column))


def _rebuild(cls, message, file, rule_id, line, column):
    return cls(message, file=file, rule_id=rule_id, line=line, column=column)


class InvalidPolicy(PolicyError):
    """A policy that cannot be loaded; `errors` lists every problem found, in file order."""

    def __init__(self, errors: Sequence[PolicyError]):
        if not errors:
            raise ValueError("InvalidPolicy needs at least one error")
        self.errors = list(errors)
        first = self.errors[0]
        more = len(self.errors) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        super().__init__(
            first.message + suffix,
            file=first.file,
            rule_id=first.rule_id,
            line=first.line,
            column=first.column,
        )

    def __reduce__(self):
        return (InvalidPolicy, (self.errors,))

    def report(self) -> str:
        """Every problem, one per line, as a linter prints them."""
        return "\n".join(str(e) for e in self.errors)


class UnknownName(PolicyError):
    """A name that is not one of the known ones (stage, pack, combining algorithm)."""

    def __init__(self, kind: str, name: str, known: Iterable[str], *, file: str = "<policy>"):
        self.kind = kind
        self.name = name
        self.known = tuple(known)
        super().__init__(
            f"unknown {kind} {name!r}; known: {', '.join(self.known)}", file=file
        )

    def __reduce__(self):
        return (_rebuild_unknown, (self.kind, self.name, self.known, self.file))


def _rebuild_unknown(kind, name, known, file):
    return UnknownName(kind, name, known, file=file)
