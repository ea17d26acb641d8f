"""The ``ciie-rsvp`` command: a Flask CLI group over ``create_app`` plus the service's commands.

Every ``flask`` command (``db upgrade``, ``routes``, ``shell``) works through it too.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate import upgrade as alembic_upgrade

from .extensions import db


def _create_app() -> Flask:
    from . import create_app

    return create_app()


class _CommandGroup(FlaskGroup):
    """Flask's command group, except that ``ciie-rsvp --help`` leaves no trace. Flask builds
    the app to list and describe the commands it and the extensions add (``db``), and building
    it for real creates the instance folder and its secret key in whatever directory
    ``--help`` was typed in. The top-level listing uses a throwaway app instead; running a
    command (or asking a command group such as ``invitations`` for its help) still builds the
    real one."""

    _listing: Flask | None = None

    @contextlib.contextmanager
    def _throwaway_app(self) -> Iterator[None]:
        import tempfile

        from . import create_app

        if self._listing is not None:
            yield
            return
        with tempfile.TemporaryDirectory(prefix="ciie-rsvp-commands-") as folder:
            try:
                self._listing = create_app({"INSTANCE_PATH": folder,
                                            "SECRET_KEY": "listing commands"})
            except Exception as exc:  # as Flask does: say why, list what is known
                click.secho(f"Error: could not load the app to list its commands: {exc}\n",
                            err=True, fg="red")
            try:
                yield
            finally:
                self._listing = None

    def list_commands(self, ctx: click.Context) -> list[str]:
        with self._throwaway_app():
            self._load_plugin_commands()
            names = set(click.Group.list_commands(self, ctx))
            if self._listing is not None:
                names.update(self._listing.cli.list_commands(ctx))
            return sorted(names)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if self._listing is None:
            return super().get_command(ctx, name)
        return click.Group.get_command(self, ctx, name) or self._listing.cli.get_command(
            ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with self._throwaway_app():
            super().format_commands(ctx, formatter)


@click.group(cls=_CommandGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """ciie-rsvp: registrations and invitations for the CIIE California delegation."""


def writes(command: Any) -> Any:
    """Run a command that reads then writes with SQLite write transactions that begin with
    BEGIN IMMEDIATE (as web POSTs do): a delivery worker committing in between would otherwise
    make its first write fail with "database is locked"."""
    import functools

    from .database import immediate_transactions

    @functools.wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with immediate_transactions():
            return command(*args, **kwargs)

    return wrapped


def prepare_database(app: Flask, *, seed: bool) -> list[str]:
    """Bring the schema to the newest migration and (optionally) add the seed events."""
    from .seed import seed_events

    with app.app_context():
        alembic_upgrade()
        created = seed_events() if seed else []
        db.session.commit()
        return created


def register_commands(app: Flask) -> None:
    app.cli.add_command(serve_command)
    app.cli.add_command(seed_command)
    app.cli.add_command(mail_group)
    app.cli.add_command(celery_worker_command)
    app.cli.add_command(invitations_group)
    app.cli.add_command(organizer_group)
    app.cli.add_command(export_group)
    app.cli.add_command(retention_group)


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Add the seed events (idempotent)."""
    from .seed import seed_events

    created = seed_events()
    db.session.commit()
    click.echo(f"seeded: {', '.join(created)}" if created else "seed events already present")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", type=int, default=None, help="Web worker processes (gunicorn).")
@click.option("--debug", is_flag=True, help="Werkzeug's reloading development server instead.")
@click.option("--no-migrate", is_flag=True, help="Do not apply migrations on start.")
def serve_command(host: str, port: int, workers: int | None, debug: bool, no_migrate: bool) -> None:
    """Run the service: migrate, seed, then serve with gunicorn and a delivery worker."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not no_migrate:
        created = prepare_database(app, seed=app.config["SEED_ON_START"])
        if created:
            click.echo(f"Seeded events: {', '.join(created)}")
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    if not os.environ.get("CIIE_RSVP_BASE_URL"):
        # Links in mail follow the address served, unless the operator set the public one
        # (the default named port 5000 whatever --port said). Workers read it at start.
        os.environ["CIIE_RSVP_BASE_URL"] = f"http://{shown_host}:{port}"
        app.config["BASE_URL"] = os.environ["CIIE_RSVP_BASE_URL"]
    click.echo(f"ciie-rsvp is running: open http://{shown_host}:{port}/")
    click.echo(f"Mail goes to: {app.config['MAIL_URL']}; its links start {app.config['BASE_URL']}")
    if debug:
        app.run(host=host, port=port, debug=True)
        return
    run_gunicorn(host, port, workers or app.config["WEB_WORKERS"])


def run_gunicorn(host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("post_worker_init", _worker_ready)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 24
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Any:
            return _create_app()

    Server().run()


def _worker_ready(worker: Any) -> None:
    """gunicorn hook, in each web worker once the app is loaded: set the loaded app's objects
    aside from the garbage collector, then start the delivery thread.

    The app, its libraries and their tables (Babel's locale data, phonenumbers' metadata,
    SQLAlchemy's compiled statements) are about 140,000 objects that live as long as the
    worker. ``gc.freeze()`` moves them to the permanent generation, so the full collections
    that requests trigger now and then no longer walk them (measured in-process: one full
    collection took 63 ms every ~1,500 registrations; 0.5 ms with the app frozen).
    """
    gc.collect()
    gc.freeze()
    _start_delivery_thread(worker)


def _start_delivery_thread(worker: Any) -> None:
    """Each web worker runs a delivery thread (claims keep them apart), unless a Celery broker
    is configured: then web servers only enqueue and Celery delivers."""
    from .outbox import run_worker

    app = worker.wsgi
    if app.config.get("MAIL_DELIVERY") in ("auto", "inline", "worker") and not app.config.get(
            "BROKER_URL"):
        stop = threading.Event()
        thread = threading.Thread(target=run_worker, args=(app, stop), daemon=True,
                                  name="outbox-delivery")
        thread.start()


@click.group("mail")
def mail_group() -> None:
    """Mail delivery."""


@mail_group.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--poll", default=5.0, show_default=True, help="Seconds between polls.")
@click.option("--batch", default=50, show_default=True)
@with_appcontext
def mail_worker(once: bool, poll: float, batch: int) -> None:
    """Deliver queued mail until stopped (SIGTERM or Ctrl-C stops cleanly)."""
    from .outbox import deliver_due, run_worker

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        report = deliver_due(batch)
        click.echo(f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}")
        return
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        click.echo("stopping after the current message…", err=True)
        stop.set()
        from .outbox import wake_worker

        wake_worker()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"delivery worker started ({app.config['MAIL_URL']})", err=True)

    def _progress(report: Any) -> None:
        click.echo(f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}")

    run_worker(app, stop, poll_seconds=poll, batch=batch, on_report=_progress)
    click.echo("delivery worker stopped", err=True)
    sys.stdout.flush()


@click.command("worker", context_settings={"ignore_unknown_options": True})
@click.option("--beat/--no-beat", default=True, show_default=True,
              help="Also run the periodic sweep (Celery beat) in this worker. Run it in "
                   "exactly one worker (or a separate `celery -A ciie_rsvp.tasks beat`).")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--concurrency", type=int, default=None,
              help="Worker processes (default: one per CPU core).")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@with_appcontext
def celery_worker_command(beat: bool, loglevel: str, concurrency: int | None,
                          celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker on CIIE_RSVP_BROKER_URL (with beat: the periodic sweep that sends
    due mail and mail a killed worker left behind). Other arguments go to `celery worker`."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    celery = app.extensions.get("celery")
    if celery is None:
        raise click.ClickException(
            "CIIE_RSVP_BROKER_URL is not set: Celery needs a broker "
            "(e.g. redis://127.0.0.1:6379/0); without one, run `ciie-rsvp mail worker`")
    argv = ["worker", f"--loglevel={loglevel}"]
    if beat:
        argv.append("--beat")
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    argv.extend(celery_args)
    click.echo(f"Celery worker on queue {celery.conf.task_default_queue!r}"
               f"{' with the periodic sweep' if beat else ''}; mail goes to "
               f"{app.config['MAIL_URL']}", err=True)
    celery.worker_main(argv)


@mail_group.command("status")
@with_appcontext
def mail_status() -> None:
    """Show whether delivery is paused, and the queue's counts."""
    from sqlalchemy import func, select

    from .models import OutboxMessage
    from .outbox import queue_state

    state = queue_state()
    if state.paused:
        click.echo(f"PAUSED until {state.paused_until:%Y-%m-%d %H:%M:%S} UTC: {state.reason}")
    elif state.reason:
        click.echo(f"retrying after a relay failure: {state.reason}")
    else:
        click.echo("delivery running")
    for status, n in db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ):
        click.echo(f"{status}: {n}")


@mail_group.command("failed")
@with_appcontext
def mail_failed() -> None:
    """List the messages that failed for good, with the relay's reason."""
    from sqlalchemy import select

    from .models import OutboxMessage, OutboxStatus

    rows = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.recipient,
               OutboxMessage.last_error).where(OutboxMessage.status == OutboxStatus.FAILED.value)
        .order_by(OutboxMessage.id)).all()
    for box_id, kind, recipient, error in rows:
        click.echo(f"#{box_id} {kind} to {recipient}: {error}")
    click.echo(f"{len(rows)} failed message(s)")


@mail_group.command("retry-failed")
@with_appcontext
@writes
def mail_retry_failed() -> None:
    """Queue every failed registration message again (same Message-ID). Invitations go
    through ``invitations resend-failed``, which leaves out unsubscribed addresses."""
    from sqlalchemy import func, select

    from .models import OutboxMessage, OutboxStatus
    from .outbox import requeue

    failed = OutboxMessage.status == OutboxStatus.FAILED.value
    ids = requeue(db.session.scalars(select(OutboxMessage.id).where(
        failed, OutboxMessage.invitation_id.is_(None))))
    invitations = db.session.scalar(select(func.count()).where(
        failed, OutboxMessage.invitation_id.is_not(None)))
    db.session.commit()
    click.echo(f"queued {len(ids)} failed message(s) again")
    if invitations:
        click.echo(f"{invitations} failed invitation message(s) left: use "
                   "'ciie-rsvp invitations resend-failed --event SLUG'")
    deliver_after_commit(ids)


@mail_group.command("resume")
@with_appcontext
@writes
def mail_resume() -> None:
    """Resume a paused queue now (after fixing the relay's credentials or TLS)."""
    from .outbox import resume_queue

    changed = resume_queue()
    db.session.commit()
    click.echo("delivery resumed" if changed else "delivery was not paused")


@click.group("invitations")
def invitations_group() -> None:
    """Welcome invitations: preflight, send, remind, resend, update."""


def _event_or_fail(slug: str) -> Any:
    from .registration.services import get_event

    event = get_event(slug)
    if event is None:
        raise click.ClickException(f"no event with slug {slug!r}")
    return event


def deliver_after_commit(ids: list[Any]) -> None:
    """Inline delivery (the default) delivers the whole batch here, with progress; a broker or
    a delivery worker otherwise takes it from the outbox."""
    from .outbox import deliver_all, dispatch

    total = len([i for i in ids if i is not None])
    if current_app.config.get("BROKER_URL") or current_app.config["MAIL_DELIVERY"] not in (
            "auto", "inline"):
        dispatch(ids)
        click.echo(f"handed {total} to the delivery worker" if total else "nothing to deliver")
        return

    def progress(report: Any) -> None:
        click.echo(f"delivered {report.sent + report.failed + report.retrying}/{total}: "
                   f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}")

    report = deliver_all(ids, progress=progress if total else None)
    if report.relay_error:
        click.echo(f"delivery paused: {report.relay_error}", err=True)


def print_preflight(report: Any) -> None:
    from .invitations.services import PROBLEMS

    counts = report.counts()
    click.echo(f"preflight of {report.template_name!r} for {report.event_slug} "
               f"(status: {report.status})")
    if report.template_missing:
        click.echo(f"  nothing can be sent: {report.missing_reason()}")
    click.echo(f"  selected: {counts['selected']}, ready to send: {counts['ready']}")
    if report.english_in_chinese and report.chinese_ready:
        click.echo(f"  note: the {report.chinese_ready} Chinese invitation(s) will show "
                   f"{', '.join(report.english_in_chinese)} in English (no Chinese text in the "
                   "event's settings)")
    for problem, label in PROBLEMS.items():
        if counts[problem]:
            click.echo(f"  {label}: {counts[problem]}")
            for check in report.samples(problem):
                detail = f" ({check.detail})" if check.detail else ""
                click.echo(f"    - #{check.registration_id} {check.name} <{check.email}>{detail}")
    for check in report.samples():
        assert check.rendered is not None
        click.echo(f"  sample [{check.language}] to {check.address}: {check.rendered.subject}")


@invitations_group.command("send")
@click.option("--event", "slug", required=True, help="Event slug.")
@click.option("--template", "template_name", default="welcome", show_default=True)
@click.option("--status", default="approved", show_default=True,
              help="Registrations with this status ('' for any; declined and withdrawn "
                   "registrations are never invited).")
@click.option("--dry-run", is_flag=True, help="Preflight only: render for everyone, send nothing.")
@click.option("--chunk", default=500, show_default=True,
              help="Recipients per transaction (a big send never holds the database long).")
@with_appcontext
def invitations_send(slug: str, template_name: str, status: str, dry_run: bool,
                     chunk: int) -> None:
    """Queue invitations for every selected registrant that passes preflight.

    Recipients go in chunks: each is rendered first (reads only), then recorded and committed
    in a short write transaction, so a big send never holds the database for long. A run that
    stops half-way can simply be repeated: who was invited is skipped.
    """
    from .invitations import batches, services

    event = _event_or_fail(slug)
    if dry_run:
        report = services.preflight(event, template_name, status=status or None)
        print_preflight(report)
        db.session.rollback()
        if report.template_missing:
            sys.exit(1)
        return
    try:
        result = batches.send_invitations(event, template_name, status=status or None,
                                          organizer_id=None, after_commit=deliver_after_commit,
                                          part=max(chunk, 1))
    except services.InvitationError as exc:
        raise click.ClickException(str(exc)) from None
    print_preflight(result.preflight)
    if result.preflight.template_missing:
        sys.exit(1)
    click.echo(f"queued {result.invited} invitation(s); skipped {result.skipped}")


@invitations_group.command("remind")
@click.option("--event", "slug", required=True)
@click.option("--round", "round_", type=int, default=None,
              help="Reminder round (default: the next one). Repeating a round sends nothing.")
@with_appcontext
@writes
def invitations_remind(slug: str, round_: int | None) -> None:
    """Remind everyone who has not answered yet."""
    from .invitations import batches, services

    event = _event_or_fail(slug)
    round_ = round_ or services.reminder_plan(event).round
    try:
        result = batches.remind(event, round_=round_, invitation_ids=None,
                                after_commit=deliver_after_commit)
    except services.InvitationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"round {round_}: queued {result.reminded} reminder(s); "
               f"skipped {len(result.skipped)}")


@invitations_group.command("resend-failed")
@click.option("--event", "slug", required=True)
@with_appcontext
@writes
def invitations_resend(slug: str) -> None:
    """Queue failed invitation messages again (same Message-ID)."""
    from .invitations import services

    result = services.resend_failed(_event_or_fail(slug))
    db.session.commit()
    click.echo(f"queued {len(result.outbox_ids)} failed message(s) again"
               + (f"; {result.unsubscribed} left out (unsubscribed)"
                  if result.unsubscribed else ""))
    deliver_after_commit(result.outbox_ids)


@invitations_group.command("update")
@click.option("--event", "slug", required=True)
@click.option("--dry-run", is_flag=True, help="Only say how many invitees would get it.")
@with_appcontext
@writes
def invitations_update(slug: str, dry_run: bool) -> None:
    """Tell invitees who were given an earlier date, time or place what it is now."""
    from .invitations import batches, services

    event = _event_or_fail(slug)
    if dry_run:
        click.echo(f"{services.schedule_update_count(event)} invitee(s) would get the update")
        note = services.chinese_fallbacks(event).get("update")
        if note:
            click.echo(f"note: the {note.invitees} Chinese invitee(s) will see the place in "
                       "English (no Chinese venue, city or country in the event's settings)")
        return
    try:
        result = batches.send_schedule_update(event, organizer_id=None,
                                              after_commit=deliver_after_commit)
    except services.InvitationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"queued {result.updated} update(s); skipped {len(result.skipped)}")


@invitations_group.command("status")
@click.option("--event", "slug", required=True)
@with_appcontext
def invitations_status(slug: str) -> None:
    """Counts (invited, opened, accepted, declined, no answer) and failed deliveries."""
    from .invitations import services

    event = _event_or_fail(slug)
    counts = services.dashboard_counts(event)
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))
    for row in services.invitation_rows(event, delivery="failed"):
        click.echo(f"failed: #{row.invitation_id} {row.name} <{row.email}>: {row.delivery_error}")
@click.group("organizer")
def organizer_group() -> None:
    """Organizer accounts."""


@organizer_group.command("create")
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option("--role", type=click.Choice(["admin", "staff"]), default="staff", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def organizer_create(email: str, name: str, role: str, password_stdin: bool) -> None:
    """Create an organizer account (the password is prompted for unless --password-stdin)."""
    from .organizer.accounts import AccountError, create_organizer

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        organizer = create_organizer(email, name, password, role)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"created {organizer.role} {organizer.email}")


@click.group("export")
def export_group() -> None:
    """Exports of personal data (each one is recorded in the export log)."""


@export_group.command("registrations")
@click.option("--event", "slug", required=True, help="The event's slug.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), default="csv",
              show_default=True)
@click.option("--status", type=click.Choice(["submitted", "approved", "waitlisted", "declined",
                                             "withdrawn"]), help="Only this status.")
@click.option("--rsvp", type=click.Choice(["accepted", "declined", "pending", "not_invited"]),
              help="Only registrants whose invitation has this answer (pending: invited, no "
                   "answer yet), or who were not invited.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Output file (default: <slug>-registrations-<date>.<format>).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@with_appcontext
def export_registrations(slug: str, fmt: str, status: str | None, rsvp: str | None,
                         output: str | None, quiet: bool) -> None:
    """Write the attendee list of an event to a file (CSV, XLSX or JSON)."""
    import getpass
    import os

    from .invitations.exports import ATTENDEE_COLUMNS
    from .organizer import exports
    from .organizer.services import ListFilters
    from .registration.services import get_event

    event = get_event(slug)
    if event is None:
        raise click.ClickException(f"there is no event with the slug {slug!r}")
    filters = ListFilters(status=status or "", rsvp=rsvp or "", sort="created",
                          direction="asc")
    path = output or exports.filename_for(event, fmt, filters)
    total = exports.count_rows(event.id, filters)
    table = exports.registration_table(event.id, filters, ATTENDEE_COLUMNS)
    tmp = f"{path}.partial"
    bar: Any = (contextlib.nullcontext(None) if quiet else
                click.progressbar(length=total, label=f"Exporting {total} registrations",
                                  show_pos=True, file=sys.stderr))
    with contextlib.ExitStack() as cleanup, bar as progress:
        cleanup.callback(lambda: os.path.exists(tmp) and os.remove(tmp))  # on any failure

        def counted() -> Any:
            for row in table.rows:
                if progress is not None:
                    progress.update(1)
                yield row

        def counted_batches(size: int) -> Any:
            assert table.batches is not None
            for batch in table.batches(size):
                if progress is not None:
                    progress.update(len(batch))
                yield batch

        # Same table with the progress bar: keeps the fast CSV path (driver-cursor batches,
        # dates left to the csv module) that a bare row iterator would lose.
        counting = exports.Table(table.columns, counted(), naive_datetimes=table.naive_datetimes,
                                 batches=counted_batches if table.batches else None)
        if fmt == "xlsx":
            exports.write_xlsx(counting, tmp)
        else:
            chunks = exports.csv_chunks if fmt == "csv" else exports.json_chunks
            with open(tmp, "wb") as fh:
                for chunk in chunks(counting):
                    fh.write(chunk)
        os.replace(tmp, path)
    db.session.rollback()
    try:
        user = getpass.getuser()
    except Exception:  # no login name (containers)
        user = str(os.getuid())
    record = exports.record_export(event, fmt, filters, row_count=counting.count,
                                   filename=os.path.basename(path), actor=f"cli:{user}")
    exports.complete_export(record.id, counting.count)
    db.session.commit()
    click.echo(f"wrote {counting.count} registrations to {path}")


@click.group("retention")
def retention_group() -> None:
    """Data retention (CCPA): anonymize personal data of past events."""


@retention_group.command("purge")
@click.option("--event", "slug", required=True, help="Event slug.")
@click.option("--older-than", "days", type=click.IntRange(min=0), required=True,
              help="Only when the event ended at least this many days ago.")
@click.option("--apply", is_flag=True, help="Really anonymize (the default is a dry run).")
@with_appcontext
def retention_purge(slug: str, days: int, apply: bool) -> None:
    """Anonymize registrations of a past event (dry run unless --apply)."""
    from .privacy import purge_event
    from .registration.services import get_event

    event = get_event(slug)
    if event is None:
        raise click.ClickException(f"no event with slug {slug!r}")
    report = purge_event(event, days, apply=apply)
    if not report.eligible:
        click.echo(f"{slug} ended {report.ended}; not older than {days} days: nothing to do")
        return
    if apply:
        db.session.commit()
        click.echo(f"anonymized {report.erased} registrations of {slug} (ended {report.ended})")
    else:
        click.echo(f"dry run: would anonymize {report.to_erase} registrations of {slug} "
                   f"(ended {report.ended}); add --apply to do it")


if __name__ == "__main__":  # ``python -m ciie_rsvp.cli``
    main()
