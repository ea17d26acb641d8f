"""Big sends in parts: invitations, reminders and schedule updates to many invitees.

Each part is first built while only reading (rendering, calendar entry, MIME: nearly all of
the time), then written in a short write transaction, committed, and handed to delivery. On
SQLite the write lock is held only for the writes: building 1,800 reminders inside one write
transaction held it for 4 to 6 seconds, and the public form, sign-in and every other write
waited that long. Each part's write checks again what its read saw (not invited yet, still
unanswered, still told an earlier schedule), so an answer given meanwhile is respected, and a
batch that stops half-way can simply be repeated: what was sent is skipped.

Unlike :mod:`.services`, these functions commit (once per part); ``after_commit`` gets the
outbox ids each part queued.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.exc import DBAPIError

from ..database import deferred_transactions, immediate_transactions
from ..extensions import db
from ..models import Event
from . import services

PART = 250  # recipients per part: about a quarter of a second of work, a few ms of writing

class Queued(Protocol):
    """A part's result: the outbox rows it queued (None: queued before)."""

    outbox_ids: list[int | None]


P = TypeVar("P")
R = TypeVar("R", bound=Queued)
AfterCommit = Callable[[list[Any]], None]


class BatchInterrupted(services.InvitationError):
    """The database failed after some parts were committed (a 503, not a refusal)."""

    def __init__(self, queued: int) -> None:
        super().__init__(f"The database stopped answering during the batch. {queued} "
                         "message(s) queued before that are being sent; send again in a "
                         "minute to continue (those already done are skipped).")
        self.queued = queued


@dataclass
class Parts(Generic[R]):
    """The parts a batch ran, and how many of its recipients were left for another run (the
    time budget ran out)."""

    results: list[R] = field(default_factory=list)
    remaining: int = 0


def in_parts(ids: Sequence[int], prepare: Callable[[list[int]], P],
             record: Callable[[P], R], *,
             after_commit: AfterCommit, part: int | None = None, at_least_once: bool = False,
             seconds: float | None = None) -> Parts[R]:
    """Run ``prepare`` (reads) then ``record`` (writes, committed) over ``ids`` in parts.

    ``at_least_once`` runs one empty part when there are no ids (so that a send with nobody
    to invite still reports why). With ``seconds``, no part starts after that long: the rest
    is counted in :attr:`Parts.remaining` (a web request must end before the server's worker
    timeout; a later run does the rest). An :class:`services.InvitationError` after some
    parts were committed says how many messages they queued.
    """
    size = max(part or PART, 1)
    deadline = time.monotonic() + seconds if seconds is not None else None
    db.session.rollback()  # end the request's transaction: no write lock while building
    done: Parts[R] = Parts()
    queued = 0
    chunks = [list(ids[i:i + size]) for i in range(0, len(ids), size)]
    for number, chunk in enumerate(chunks or ([[]] if at_least_once else [])):
        if deadline is not None and done.results and time.monotonic() > deadline:
            done.remaining = sum(len(c) for c in chunks[number:])
            break
        try:
            with deferred_transactions():
                prepared = prepare(chunk)
                db.session.rollback()
            with immediate_transactions():
                result = record(prepared)
                db.session.commit()
        except services.InvitationError as exc:
            db.session.rollback()
            if queued:
                raise services.InvitationError(
                    f"{exc} ({queued} message(s) queued before this are being sent.)"
                ) from exc
            raise
        except DBAPIError as exc:
            db.session.rollback()
            if queued:  # not "nothing was saved": the parts before were committed
                raise BatchInterrupted(queued) from exc
            raise
        except BaseException:
            db.session.rollback()
            raise
        done.results.append(result)
        queued += len([i for i in result.outbox_ids if i is not None])
        after_commit(result.outbox_ids)
    return done


def send_invitations(event: Event, template_name: str, *, status: str | None,
                     organizer_id: int | None, after_commit: AfterCommit,
                     part: int | None = None, seconds: float | None = None
                     ) -> services.SendResult:
    """Invite every selected recipient who passes preflight; one preflight report for all."""
    event_id, slug = event.id, event.slug
    ids = services.recipient_ids(event, status=status)
    # Those invited before are only reported (no rendering): parts go to the others, so a
    # second wave, or a send continued after the time budget, does not walk them again.
    invited = services.invited_registration_ids(event)
    before = [i for i in ids if i in invited]
    ids = [i for i in ids if i not in invited]

    def prepare(chunk: list[int]) -> tuple[services.Preflight, list[services.Prepared]]:
        return services.prepare_invitations(event, template_name, status=status,
                                            registration_ids=chunk)

    def record(prepared: tuple[services.Preflight, list[services.Prepared]]
               ) -> services.SendResult:
        report, rows = prepared
        queued, invited = services.record_invitations(event_id, template_name, rows,
                                                      organizer_id=organizer_id)
        return services.SendResult(report, list(queued), invited, len(rows) - invited)

    combined = services.SendResult(services.Preflight(slug, template_name,
                                                      status or services.ANY_STATUS))
    if "en" not in services.templates_of(event, template_name):
        # Nothing can be sent: report every selected recipient at once, render nothing.
        combined.preflight = services.preflight(event, template_name, status=status)
        return combined
    if before:
        combined.preflight.checks.extend(services.preflight(
            event, template_name, status=status, registration_ids=before).checks)
    parts = in_parts(ids, prepare, record, after_commit=after_commit,
                     part=part, at_least_once=True, seconds=seconds)
    combined.remaining = parts.remaining
    for result in parts.results:
        report = result.preflight
        combined.preflight.template_missing = report.template_missing
        combined.preflight.template_exists = report.template_exists
        combined.preflight.english_in_chinese = report.english_in_chinese
        combined.preflight.checks.extend(report.checks)
        combined.outbox_ids.extend(result.outbox_ids)
        combined.invited += result.invited
        combined.skipped += result.skipped
    return combined


def remind(event: Event, *, round_: int, invitation_ids: Iterable[int] | None,
           after_commit: AfterCommit, part: int | None = None, seconds: float | None = None
           ) -> services.RemindResult:
    """Reminder ``round_`` to everyone (or ``invitation_ids``) who has not answered."""
    services.check_round(event, round_)
    candidates = services.reminder_candidates(event, invitation_ids)
    # Those who had this round are only reported: parts go to the others, so a round
    # continued after the time budget does not walk them again.
    ids = [i for i, rounds in candidates if rounds < round_]
    combined = services.RemindResult(skipped=[(i, "already_reminded")
                                              for i, rounds in candidates if rounds >= round_])
    parts = in_parts(
        ids, lambda chunk: services.prepare_reminders(event, round_=round_,
                                                      invitation_ids=chunk),
        lambda batch: services.record_reminders(round_, batch),
        after_commit=after_commit, part=part, seconds=seconds)
    return _gather(combined, parts, "reminded")


def send_schedule_update(event: Event, *, organizer_id: int | None,
                         after_commit: AfterCommit, part: int | None = None,
                         seconds: float | None = None) -> services.UpdateResult:
    """The event's new date, time and place to everyone who was told earlier ones."""
    event_id = event.id
    ids = services.update_candidates(event)
    combined = services.UpdateResult()
    parts = in_parts(
        ids, lambda chunk: services.prepare_updates(event, chunk),
        lambda batch: services.record_updates(event_id, batch, organizer_id=organizer_id),
        after_commit=after_commit, part=part, seconds=seconds)
    return _gather(combined, parts, "updated")


M = TypeVar("M", services.RemindResult, services.UpdateResult)


def _gather(combined: M, parts: Parts[M], count: str) -> M:
    """Add the parts' results (outbox ids, skipped, the ``count`` of messages) to
    ``combined``, with what was left for another run."""
    combined.remaining = parts.remaining
    for result in parts.results:
        combined.outbox_ids.extend(result.outbox_ids)
        combined.skipped.extend(result.skipped)
        setattr(combined, count, getattr(combined, count) + getattr(result, count))
    return combined
