"""Accounts of the web interface: a name, a role, an argon2 password hash (docs/web.md).

    add_user(uow, name="ana", role="reviewer", password="...")
    authenticate(session, name="ana", password="...")   # -> User, or None

Roles are cumulative in reading only: every role reads; what else a role may do is said once,
in PERMISSIONS. Account changes are audited like every other write; no password or hash ever
reaches the audit log.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from catalog.errors import AlreadyExists, InvalidInput, NotFound
from catalog.models import User, utcnow
from catalog.timeutil import iso_utc
from catalog.unit_of_work import UnitOfWork

ROLES = ("viewer", "reviewer", "admin")
# Separation of duties: reviewers decide on mixtures, admins on sources; neither does the
# other's part (an administrator who also reviews keeps a second, reviewer account).
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "sign-off": frozenset({"reviewer"}),
    "approve-sources": frozenset({"admin"}),
}
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 hashes any length; a bound keeps a login request cheap
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # the library's defaults follow RFC 9106's recommendation


# A hash of no password: a login for an unknown name costs as much as one for a known name.
_DUMMY: list[str] = []


def may(role: str, action: str) -> bool:
    return role in PERMISSIONS.get(action, frozenset())


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise InvalidInput(f"user name {name[:120]!r}: use 1-100 characters of letters, digits, "
                           "'.', '_', '@', '-', starting with a letter or digit")
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"--role {role[:40]!r}: expected one of {', '.join(ROLES)}")
    return role


def _hash(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"the password is too long: at most {MAX_PASSWORD} characters")
    return _hasher().hash(password)


def user_record(user: User) -> dict[str, Any]:
    """The account as JSON-ready data, without its hash."""
    return {"name": user.name, "role": user.role, "created_by": user.actor,
            "created_at": iso_utc(user.created_at), "updated_at": iso_utc(user.updated_at)}


def find(session: Session, name: str) -> User | None:
    return session.execute(select(User).where(User.name == name)).scalars().first()


def get(session: Session, name: str) -> User:
    user = find(session, name)
    if user is None:
        raise NotFound(f"no user {name[:100]!r} (`govcat user list` shows them)")
    return user


def add_user(uow: UnitOfWork, *, name: str, role: str, password: str) -> User:
    _check_name(name)
    _check_role(role)
    if find(uow.session, name) is not None:
        raise AlreadyExists(f"user {name!r} exists (`govcat user passwd` or `set-role` change it)")
    now = utcnow()
    user = User(name=name, role=role, password_hash=_hash(password), actor=uow.actor,
                created_at=now, updated_at=now)
    uow.session.add(user)
    uow.session.flush()
    uow.audit.record("user.add", "user", name, after=user_record(user))
    return user


def set_role(uow: UnitOfWork, *, name: str, role: str) -> User:
    _check_role(role)
    user = get(uow.session, name)
    before = user_record(user)
    user.role, user.updated_at = role, utcnow()
    uow.session.add(user)
    uow.session.flush()
    uow.audit.record("user.set-role", "user", name, before=before, after=user_record(user))
    return user


def set_password(uow: UnitOfWork, *, name: str, password: str) -> User:
    """A new password; the sessions signed in with the old one end (see `fingerprint`)."""
    user = get(uow.session, name)
    user.password_hash, user.updated_at = _hash(password), utcnow()
    uow.session.add(user)
    uow.session.flush()
    uow.audit.record("user.passwd", "user", name, after={"updated_at": iso_utc(user.updated_at)})
    return user


def listing(session: Session) -> list[dict[str, Any]]:
    return [user_record(u) for u in session.execute(select(User).order_by(User.name)).scalars()]


def authenticate(session: Session, *, name: str, password: str) -> User | None:
    """The user whose password this is, or None (unknown name and wrong password alike)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    user = find(session, name) if _NAME.fullmatch(name or "") else None
    if len(password) > MAX_PASSWORD:
        return None
    if user is None:
        if not _DUMMY:
            _DUMMY.append(hasher.hash("no such user"))
        try:
            hasher.verify(_DUMMY[0], password)
        except VerificationError:
            pass
        return None
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def fingerprint(user: User) -> str:
    """Changes with the password: a session keeps it and ends when it no longer matches."""
    return hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()[:32]


__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "PERMISSIONS", "ROLES", "add_user", "authenticate",
           "find", "fingerprint", "get", "listing", "may", "set_password", "set_role",
           "user_record"]
