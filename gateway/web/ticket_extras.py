"""What the ticket page needs for the operator's safe actions: the undo deadline of a recent
discard or merge, the merge links both ways, and the SMS frame a reply is sent in (so the part
counter counts it)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from gateway.notify import sms_body
from gateway.tickets import UNDO_WINDOW, Actor, TransitionRefused
from gateway.utility_replies import NOT_OURS, UtilityReply
from storage.models import Ticket

CONFIRMED = {"duplicate", "discarded"}  # statuses the web asks a ticked confirmation for
_MARK = "\x00"


def ticket_extras(session: Session, gw: Any, ticket: Ticket) -> dict[str, Any]:
    """Undo deadline (or None) and the (prefix, suffix) the gateway puts around an SMS reply."""
    last = gw.tickets.undoable(session, ticket)
    framed = sms_body("reply", ticket.script, automatic=False, ref=ticket.reference, text=_MARK)
    prefix, _, suffix = framed.partition(_MARK)
    original = session.get(Ticket, ticket.duplicate_of_id) if ticket.duplicate_of_id else None
    merged = session.exec(
        select(Ticket.reference).where(Ticket.duplicate_of_id == ticket.id).order_by(col(Ticket.id))
    ).all()
    return {
        "undo_until": (last.at + UNDO_WINDOW) if last is not None else None,
        "sms_frame": (prefix, suffix),
        "merged_into": original.reference if original else None,
        "merged": list(merged),
    }


def refuse_work_order(gw: Any, session: Session, ticket: Ticket, actor: Actor, reason: str) -> None:
    """The field page's "not ours": the same step as the NIJE NAŠE keyword in a work-order mail."""
    reply = UtilityReply(NOT_OURS, reason)
    # the NIJE NAŠE step of a mail reply, so both ways back to the coordinator are one
    if not gw.inbox.utility_replies.apply(session, ticket, actor, reply, ""):
        raise TransitionRefused("not_ours_only_assigned")
