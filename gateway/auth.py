"""Staff identities: API tokens (stored as sha256), passwords (argon2), roles and lockout."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from gateway.tickets import Actor
from storage.models import ApiToken, StaffUser

ROLES = ("admin", "operator", "utility", "app", "manager")
STAFF_ROLES = ("admin", "operator", "utility", "manager")  # manager: reports and dashboard, read-only
_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str
    utility: str | None = None

    @property
    def sees_pii(self) -> bool:
        return self.role in ("admin", "operator")

    def actor(self) -> Actor:
        return Actor(self.name, self.role, self.utility)


class AuthError(Exception):
    pass


def _token_hash(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough (no dictionary to attack), unlike passwords.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, name: str, role: str, utility: str | None = None) -> str:
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role == "utility" and not utility:
        raise AuthError("a utility token needs --utility")
    token = "s48_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=_token_hash(token), role=role, utility=utility))
    return token


def principal_for_token(session: Session, token: str, now: datetime) -> Principal | None:
    row = session.exec(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked == False)  # noqa: E712
    ).first()
    if row is None:
        return None
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
        row.last_used_at = now
        session.add(row)
    return Principal(row.name, row.role, row.utility)


def add_user(
    session: Session, *, username: str, password: str, role: str, utility: str | None = None
) -> StaffUser:
    if role not in STAFF_ROLES:
        raise AuthError(f"unknown role {role!r}; one of {', '.join(STAFF_ROLES)}")
    if role == "utility" and not utility:
        raise AuthError("a utility user needs --utility")
    if len(password) < 10:
        raise AuthError("password must have at least 10 characters")
    user = StaffUser(username=username, password_hash=_hasher.hash(password), role=role, utility=utility)
    session.add(user)
    return user


def check_password(
    session: Session,
    username: str,
    password: str,
    now: datetime,
    *,
    max_failures: int,
    lockout: timedelta,
) -> Principal:
    """The user's principal, or AuthError; repeated failures lock the account for `lockout`."""
    # Locked for the check: parallel guesses on PostgreSQL otherwise all read failed_logins = 0,
    # each wrote 1, and the account never locked (SQLite already serialises its writers).
    user = session.exec(select(StaffUser).where(StaffUser.username == username).with_for_update()).first()
    if user is None:
        _hasher.hash(password)  # same work as a real check: no user enumeration by timing
        raise AuthError("wrong username or password")
    if user.disabled_at is not None:
        _hasher.hash(password)
        raise AuthError("account disabled")
    if user.locked_until is not None and user.locked_until > now:
        raise AuthError("account locked after repeated failures; try again later")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until, user.failed_logins = now + lockout, 0
        session.add(user)
        raise AuthError("wrong username or password") from None
    user.failed_logins, user.locked_until = 0, None
    session.add(user)
    return Principal(user.username, user.role, user.utility)


# -- administration of staff accounts (the admin pages) ---------------------------------------
def staff_user(session: Session, username: str) -> StaffUser | None:
    return session.exec(select(StaffUser).where(StaffUser.username == username)).first()


def _staff_user_to_change(session: Session, username: str) -> StaffUser:
    user = session.exec(select(StaffUser).where(StaffUser.username == username).with_for_update()).first()
    if user is None:
        raise AuthError(f"no user {username!r}")
    return user


def set_disabled(session: Session, username: str, disabled: bool, now: datetime) -> None:
    """Disabling also ends every open session of the user at once."""
    user = _staff_user_to_change(session, username)
    user.disabled_at = now if disabled else None
    if disabled:
        user.sessions_valid_from = now
    session.add(user)


def reset_password(session: Session, username: str, password: str, now: datetime) -> None:
    if len(password) < 10:
        raise AuthError("password must have at least 10 characters")
    user = _staff_user_to_change(session, username)
    user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until, user.sessions_valid_from = 0, None, now
    session.add(user)


def unlock(session: Session, username: str) -> None:
    user = _staff_user_to_change(session, username)
    user.failed_logins, user.locked_until = 0, None
    session.add(user)


def set_role(session: Session, username: str, role: str, utility: str | None) -> None:
    """A changed role ends the open sessions (the web checks role and utility on each request)."""
    if role not in STAFF_ROLES:
        raise AuthError(f"unknown role {role!r}; one of {', '.join(STAFF_ROLES)}")
    if role == "utility" and not utility:
        raise AuthError("a utility user needs --utility")
    user = _staff_user_to_change(session, username)
    user.role, user.utility = role, (utility if role == "utility" else None)
    session.add(user)


def end_sessions(session: Session, username: str, now: datetime) -> None:
    """Every cookie of this user issued until now is void: a copied cookie dies with the logout."""
    user = staff_user(session, username)
    if user is not None:
        user.sessions_valid_from = now
        session.add(user)


def tokens(session: Session) -> list[ApiToken]:
    """Every token, newest first; the rows hold only the secret's hash."""
    newest_first = (col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
    return list(session.exec(select(ApiToken).order_by(*newest_first)))


def revoke_token(session: Session, token_id: int) -> str:
    """Refuse the token from now on (kept for the record); returns its name."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise AuthError("no such token")
    row.revoked = True
    session.add(row)
    return row.name
