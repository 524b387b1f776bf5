"""Request plumbing: the gateway, a DB session per request, and the caller's principal from a token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from gateway.auth import Principal, principal_for_token
from gateway.runtime import Gateway
from storage.db import session_scope

_bearer = HTTPBearer(auto_error=False, description="`sistem48 token create --role …`")


def gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


def db(gw: Annotated[Gateway, Depends(gateway)]) -> Iterator[Session]:
    with session_scope(gw.engine) as session:
        yield session


def principal(
    request: Request,
    gw: Annotated[Gateway, Depends(gateway)],
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if creds is None or not creds.credentials:
        session_user = getattr(request.state, "principal", None)
        if isinstance(session_user, Principal):
            return session_user  # the web UI's cookie session
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with session_scope(gw.engine, write=True) as s:
        found = principal_for_token(s, creds.credentials, gw.clock())
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or revoked token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found


def require(*roles: str) -> Callable[[Principal], Principal]:
    def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {who.role!r} may not do this; needs {' or '.join(roles)}",
            )
        return who

    return check


Staff = Annotated[Principal, Depends(require("admin", "operator", "utility"))]
Operator = Annotated[Principal, Depends(require("admin", "operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]
DB = Annotated[Session, Depends(db)]
GW = Annotated["Gateway", Depends(gateway)]
