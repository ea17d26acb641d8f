"""RSVP columns for the attendee-list exports of the organizer console and CLI.

They plug into :mod:`ciie_rsvp.organizer.exports` as ordinary export columns: the invitation
is outer-joined (registrations never invited have empty cells), and the invitation's latest
message gives its delivery state, all computed by the database in the same streamed query.
"""

from __future__ import annotations

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import aliased

from ..models import Invitation, OutboxMessage, Registration
from ..organizer.exports import DATETIME, INT, REGISTRATION_COLUMNS, TEXT, Column

_latest_mail = (select(OutboxMessage.invitation_id, func.max(OutboxMessage.id).label("last_id"))
                .where(OutboxMessage.invitation_id.is_not(None))
                .group_by(OutboxMessage.invitation_id).subquery("latest_invitation_mail"))
_mail = aliased(OutboxMessage, name="invitation_mail")

_INVITATION = ((Invitation, and_(Invitation.registration_id == Registration.id,
                                 Invitation.event_id == Registration.event_id)),)
_DELIVERY = (*_INVITATION,
             (_latest_mail, _latest_mail.c.invitation_id == Invitation.id),
             (_mail, _mail.id == _latest_mail.c.last_id))

_ANSWER = case((Invitation.rsvp == "pending", literal("no answer")),
               else_=Invitation.rsvp).label("rsvp_answer")

RSVP_COLUMNS: list[Column] = [
    Column("rsvp_invited_at", "Invited at (UTC)", DATETIME, (Invitation.invited_at,),
           width=20, joins=_INVITATION),
    Column("rsvp_delivery", "Invitation delivery", TEXT, (_mail.status,), width=12,
           joins=_DELIVERY),
    Column("rsvp_opened_at", "Invitation opened at (UTC)", DATETIME, (Invitation.opened_at,),
           width=20, joins=_INVITATION),
    Column("rsvp_answer", "RSVP", TEXT, (_ANSWER,), width=12, joins=_INVITATION),
    Column("rsvp_guests", "Guests", INT, (Invitation.guests,), width=8, joins=_INVITATION),
    Column("rsvp_responded_at", "RSVP answered at (UTC)", DATETIME,
           (Invitation.responded_at,), width=20, joins=_INVITATION),
]

#: What the console and ``ciie-rsvp export registrations`` write: the registration columns,
#: then the RSVP columns.
ATTENDEE_COLUMNS: list[Column] = [*REGISTRATION_COLUMNS, *RSVP_COLUMNS]
