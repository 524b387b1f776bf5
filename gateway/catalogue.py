"""The catalogue (utilities, categories, the coordinator's escalation addresses) in the database: seeded
from the TOML on the first start, edited by an admin, published to this process as one snapshot, and
reloaded by every other process when the version row moves. The only writer of the catalogue tables."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from gateway.config import CategorySettings, Config, UtilitySettings
from storage.db import session_scope
from storage.models import CatalogueCategory, CatalogueState, CatalogueUtility, Ticket

log = logging.getLogger(__name__)

_CODE = re.compile(r"^[a-z0-9_]{2,40}$")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


class CatalogueError(Exception):
    """A refused change: `field` is the form field to mark, `key` the i18n key of the reason."""

    def __init__(self, field: str, key: str) -> None:
        super().__init__(key)
        self.field = field
        self.key = key


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    utilities: list[UtilitySettings]
    categories: list[CategorySettings]
    escalation_emails: list[str]


def split_list(text: str) -> list[str]:
    """Keywords or addresses as an admin types them: one per line or comma-separated, blanks dropped."""
    return [part.strip() for part in re.split(r"[\n,;]", text) if part.strip()]


def _emails(field: str, values: list[str]) -> list[str]:
    for value in values:
        if not _EMAIL.match(value):
            raise CatalogueError(field, "catalogue_bad_email")
    return [v.lower() for v in values]


class Catalogue:
    """Holds the version this process runs with; `config.utilities`, `config.categories` and
    `config.sla.escalation_emails` are replaced as a whole on reload, so every reader sees one
    consistent catalogue (list assignment is atomic) without a restart."""

    def __init__(
        self, engine: sa.Engine, config: Config, clock: Callable[[], datetime], check_every_s: float = 2.0
    ) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.check_every_s = check_every_s
        self.version = 0
        self._checked = 0.0
        self._failing = False

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> None:
        """Seed from the TOML when the tables are empty (first start), then publish what is stored."""
        with session_scope(self.engine) as s:
            seeded = s.get(CatalogueState, 1) is not None
        if not seeded:
            self._seed()
        self._publish(self._read())

    def _seed(self) -> None:
        try:
            with session_scope(self.engine, write=True) as s:
                s.add(CatalogueState(escalation_emails=list(self.config.sla.escalation_emails)))
                for i, u in enumerate(self.config.utilities):
                    s.add(CatalogueUtility(**u.model_dump(), position=i))
                s.flush()
                for i, c in enumerate(self.config.categories):
                    s.add(CatalogueCategory(**c.model_dump(), position=i))
            log.info(
                "catalogue seeded from the configuration: %d utilities, %d categories",
                len(self.config.utilities),
                len(self.config.categories),
            )
        except IntegrityError:
            pass  # another process seeded it first; its rows are read next

    def _read(self) -> Snapshot:
        with session_scope(self.engine) as s:
            state = s.get(CatalogueState, 1)
            assert state is not None
            utilities = s.exec(select(CatalogueUtility).order_by(col(CatalogueUtility.position))).all()
            categories = s.exec(select(CatalogueCategory).order_by(col(CatalogueCategory.position))).all()
            return Snapshot(
                state.version,
                [UtilitySettings(**u.model_dump(exclude={"position"})) for u in utilities],
                [CategorySettings(**c.model_dump(exclude={"position"})) for c in categories],
                list(state.escalation_emails),
            )

    def _publish(self, snap: Snapshot) -> None:
        self.config.utilities = snap.utilities
        self.config.categories = snap.categories
        self.config.sla.escalation_emails = snap.escalation_emails
        self.version = snap.version

    def refresh(self) -> bool:
        """Reload when another process saved (one primary-key read); True when something changed."""
        self._checked = time.monotonic()
        with session_scope(self.engine) as s:
            version = s.exec(select(CatalogueState.version).where(CatalogueState.id == 1)).first()
        if version is None:
            self.load()
            return True
        if version == self.version:
            return False
        self._publish(self._read())
        log.info("catalogue reloaded at version %d", version)
        return True

    def refresh_soon(self) -> None:
        """For hot paths: checks the version at most every `check_every_s` seconds."""
        if time.monotonic() - self._checked >= self.check_every_s:
            self.refresh()

    async def run_once(self) -> None:
        """The background loop's step; returns nothing so the loop sleeps between checks. A database
        outage is one warning, not a traceback every two seconds: the catalogue in hand stays valid."""
        try:
            await asyncio.to_thread(self.refresh)
        except sa.exc.SQLAlchemyError as exc:
            if not self._failing:
                log.warning(
                    "catalogue version not readable (%s); keeping version %d",
                    type(exc).__name__,
                    self.version,
                )
            self._failing = True
        else:
            self._failing = False

    # -- changes ---------------------------------------------------------------------------
    def _bump(self, s: Session, actor: str, what: str) -> None:
        state = s.get(CatalogueState, 1)
        assert state is not None
        state.version += 1
        state.changed_at = self.clock()
        state.changed_by = actor
        s.add(state)
        # The audit trail: who changed which entry, never any citizen data (there is none here).
        log.info("catalogue v%d: %s %s", state.version, actor, what)

    def _done(self) -> None:
        self._publish(self._read())

    def save_utility(
        self, actor: str, *, code: str, name: str, emails: list[str], escalation_emails: list[str], new: bool
    ) -> None:
        code, name = code.strip(), name.strip()
        if not _CODE.match(code):
            raise CatalogueError("code", "catalogue_bad_code")
        if not name:
            raise CatalogueError("name", "catalogue_needs_name")
        emails = _emails("emails", emails)
        if not emails:
            raise CatalogueError("emails", "catalogue_needs_email")
        escalation = _emails("escalation_emails", escalation_emails)
        with session_scope(self.engine, write=True) as s:
            row = s.get(CatalogueUtility, code)
            if new and row is not None:
                raise CatalogueError("code", "catalogue_code_taken")
            if row is None:
                if not new:
                    raise CatalogueError("code", "catalogue_unknown")
                count = s.exec(select(func.count()).select_from(CatalogueUtility)).one()
                row = CatalogueUtility(code=code, name=name, position=count)
            row.name, row.emails, row.escalation_emails = name, emails, escalation
            s.add(row)
            self._bump(s, actor, f"{'added' if new else 'changed'} utility {code}")
        self._done()

    def save_category(
        self,
        actor: str,
        *,
        code: str,
        name: str,
        utility: str,
        sla_hours: str,
        keywords: list[str],
        enabled: bool,
        new: bool,
    ) -> None:
        code, name = code.strip(), name.strip()
        if not _CODE.match(code):
            raise CatalogueError("code", "catalogue_bad_code")
        if not name:
            raise CatalogueError("name", "catalogue_needs_name")
        try:
            checked = CategorySettings(
                code=code,
                name=name,
                utility=utility,
                sla_hours=sla_hours,
                keywords=keywords,
            )
        except ValidationError:
            raise CatalogueError("sla_hours", "catalogue_bad_hours") from None
        with session_scope(self.engine, write=True) as s:
            if s.get(CatalogueUtility, utility) is None:
                raise CatalogueError("utility", "catalogue_unknown_utility")
            row = s.get(CatalogueCategory, code)
            if new and row is not None:
                raise CatalogueError("code", "catalogue_code_taken")
            if row is None:
                if not new:
                    raise CatalogueError("code", "catalogue_unknown")
                count = s.exec(select(func.count()).select_from(CatalogueCategory)).one()
                row = CatalogueCategory(code=code, name=name, utility=utility, position=count)
            row.name, row.utility, row.sla_hours = name, utility, checked.sla_hours
            row.keywords, row.enabled = list(dict.fromkeys(keywords)), enabled
            s.add(row)
            self._bump(s, actor, f"{'added' if new else 'changed'} category {code}")
        self._done()

    def delete_category(self, actor: str, code: str) -> None:
        """Only a category no ticket ever had; one with tickets can be disabled instead."""
        with session_scope(self.engine, write=True) as s:
            row = s.get(CatalogueCategory, code)
            if row is None:
                raise CatalogueError("code", "catalogue_unknown")
            used = s.exec(
                select(func.count())
                .select_from(Ticket)
                .where((col(Ticket.category) == code) | (col(Ticket.suggested_category) == code))
            ).one()
            if used:
                raise CatalogueError("code", "catalogue_in_use")
            s.delete(row)
            self._bump(s, actor, f"deleted category {code}")
        self._done()

    def save_escalation(self, actor: str, emails: list[str]) -> None:
        checked = _emails("escalation_emails", emails)
        with session_scope(self.engine, write=True) as s:
            state = s.get(CatalogueState, 1)
            assert state is not None
            state.escalation_emails = checked
            self._bump(s, actor, "changed the coordinator's escalation addresses")
        self._done()
