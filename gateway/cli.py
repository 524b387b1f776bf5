"""The `sistem48` command: run, db upgrade, check-config, users and tokens, inject, modem demo, workers."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli_options import ConfigOpt, read_config
from gateway.cli_privacy import citizen_app, retention
from gateway.config import Config

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Sistem48 contact gateway for a municipal call centre.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
user_app = typer.Typer(no_args_is_help=True, help="Staff users of the web UI.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens.")
inject_app = typer.Typer(no_args_is_help=True, help="Feed a contact through the same ingest as the channels.")
modem_app = typer.Typer(
    no_args_is_help=True, help="The GSM modem: check a real one; inject into / list the simulated one."
)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(inject_app, name="inject")
app.add_typer(modem_app, name="modem")
app.add_typer(citizen_app, name="citizen")
app.command()(retention)


def _config(path: Path | None) -> Config:
    return read_config(path)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _upgrade(config: Config) -> None:
    from storage.db import upgrade

    upgrade(config.database_url())


def _tune_malloc(config: Config) -> None:
    # Before build_gateway: malloc arenas are made by the first threads and kept for good.
    from voicemail.heap import tune_malloc

    tune_malloc(config.transcription.malloc_arena_max)


@app.command()
def run(
    config: ConfigOpt = None,
    only: Annotated[
        str | None,
        typer.Option(help="comma-separated roles: api,mail,sms,sip,outbox,sla,transcribe"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the gateway: migrations, channels, workers, API and web UI."""
    _logging(verbose)
    cfg = _config(config)
    _upgrade(cfg)
    from gateway.app import ALL_ROLES, build_gateway, create_app

    roles = frozenset(r.strip() for r in only.split(",")) if only else ALL_ROLES
    if "transcribe" in roles and cfg.transcription.enabled and cfg.workers.transcribe_in_process:
        _tune_malloc(cfg)
    try:
        gw = build_gateway(cfg, roles=roles)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if "api" in roles and cfg.http.enabled:
        from gateway.serve import http_server

        server = http_server(cfg, create_app(cfg, gateway=gw))
        typer.echo(f"Sistem48 on http://{cfg.http.host}:{cfg.http.port}  (API docs: /docs)")
        server.run()
    else:
        asyncio.run(_run_headless(gw))


async def _run_headless(gw: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await gw.start()
    try:
        await stop.wait()
    finally:
        await gw.stop()


@app.command()
def worker(
    config: ConfigOpt = None,
    transcribe: Annotated[bool, typer.Option("--transcribe", help="take transcription jobs")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """A separate worker process (several may share one PostgreSQL)."""
    _logging(verbose)
    cfg = _config(config).model_copy(deep=True)
    cfg.workers.transcribe_in_process = transcribe
    if transcribe and cfg.transcription.enabled:
        _tune_malloc(cfg)
    from gateway.app import build_gateway

    roles = {"transcribe"} if transcribe else {"outbox"}
    asyncio.run(_run_headless(build_gateway(cfg, roles=roles)))


@app.command("check-config")
def check_config(config: Annotated[Path | None, typer.Argument(help="TOML file")] = None) -> None:
    """Validate a config file; print the catalogue and the SMS part count of every template."""
    cfg = _config(config)
    typer.echo(f"ok: {config or 'embedded defaults'}")
    typer.echo(f"  database: {cfg.database_url().split('@')[-1]}")
    typer.echo(f"  {len(cfg.utilities)} utilities, {len(cfg.categories)} categories")
    for name in ("mail", "sms", "sip", "transcription"):
        typer.echo(f"  [{name}] {'enabled' if getattr(cfg, name).enabled else 'disabled'}")
    _template_parts(cfg)


def _template_parts(cfg: Config) -> None:
    from gateway.notify import SMS_TEMPLATES, sms_body
    from sms.codec import count_parts

    sample = {
        "ref": f"{cfg.gateway.reference_prefix}-2026-000123",
        "due": "24.11. 15:30",
        "utility": "JKP Vodovod i kanalizacija",
        "note": "nedostaje adresa",
        "where": "Republička direkcija za puteve",
        "original": "S48-2026-000100",
        "label": "u radu",
        "due_part": " Rok: 24.11. 15:30.",
        "text": "Hvala na prijavi.",
        "mail": (cfg.mail.accept_addresses or [cfg.mail.from_address])[0],
    }
    # The status link's token is always 8 characters; the host is this configuration's own.
    sample["url"] = f"{cfg.gateway.public_base_url.rstrip('/')}/s/{sample['ref']}/{'x' * 8}"
    typer.echo(f"  SMS templates (policy {cfg.sms.encoding_policy}; parts latin/cyrillic):")
    templates = {**SMS_TEMPLATES, "ack_mms": cfg.sms.mms_reply}
    for kind, template in templates.items():
        counts = [
            count_parts(
                sms_body(kind, script, automatic=kind != "reply", template=template, **sample),
                cfg.sms.encoding_policy,
            )
            for script in ("latin", "cyrillic")
        ]
        flag = "" if all(c.parts == 1 for c in counts) else "   <- more than one part"
        typer.echo(
            f"    {kind:13} {counts[0].parts} ({counts[0].encoding}) / "
            f"{counts[1].parts} ({counts[1].encoding}){flag}"
        )


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Create or migrate the schema (Alembic)."""
    cfg = _config(config)
    _upgrade(cfg)
    typer.echo("database is up to date")


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="admin | operator | utility | manager")] = "operator",
    utility: Annotated[str | None, typer.Option(help="utility code (role utility)")] = None,
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, envvar="SISTEM48_NEW_PASSWORD"),
    ] = "",
    config: ConfigOpt = None,
) -> None:
    """Add a staff user for the web UI."""
    from sqlalchemy.exc import IntegrityError

    from gateway.auth import AuthError, add_user
    from storage.db import make_engine, session_scope

    cfg = _config(config)
    _upgrade(cfg)
    _check_utility(cfg, role, utility)
    try:
        with session_scope(make_engine(cfg.database_url()), write=True) as s:
            add_user(s, username=username, password=password, role=role, utility=utility)
    except AuthError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except IntegrityError:
        typer.echo(f"error: a user {username!r} already exists", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"user {username} ({role}) added")


def _check_utility(cfg: Config, role: str, utility: str | None) -> None:
    if utility is None:
        return
    from channels.clock import utc_now
    from gateway.catalogue import Catalogue
    from storage.db import make_engine

    engine = make_engine(cfg.database_url())
    try:
        Catalogue(engine, cfg, utc_now).load()  # the utilities an admin added on the catalogue page count
    finally:
        engine.dispose()
    if cfg.utility(utility) is None:
        codes = ", ".join(u.code for u in cfg.utilities)
        typer.echo(f"error: unknown utility {utility!r}; one of: {codes}", err=True)
        raise typer.Exit(2)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin | operator | utility | app | manager")],
    utility: Annotated[str | None, typer.Option(help="utility code (role utility)")] = None,
    name: Annotated[str, typer.Option(help="what the token is for")] = "cli",
    config: ConfigOpt = None,
) -> None:
    """Create an API token; it is shown once and stored hashed."""
    from gateway.auth import AuthError, create_token
    from storage.db import make_engine, session_scope

    cfg = _config(config)
    _upgrade(cfg)
    _check_utility(cfg, role, utility)
    try:
        with session_scope(make_engine(cfg.database_url()), write=True) as s:
            token = create_token(s, name=name, role=role, utility=utility)
    except AuthError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(token)


def _ingest(cfg: Config, contact: Any) -> None:
    from gateway.app import build_gateway

    _upgrade(cfg)
    gw = build_gateway(cfg, roles=set())
    result = gw.inbox.ingest_sync(contact)
    gw.engine.dispose()
    what = "duplicate of" if result.duplicate else ("new ticket" if result.created else "added to")
    kept = "(no ticket: quarantined)" if result.quarantined else "(no ticket: kept)"
    typer.echo(f"{what} {result.reference or kept}")


@inject_app.command("mail")
def inject_mail(file: Path, config: ConfigOpt = None) -> None:
    """Ingest an RFC 5322 message from a file, as if it arrived by SMTP."""
    from mail.intake import contact_from_bytes

    cfg = _config(config)
    raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    contact = contact_from_bytes(raw, received_at=datetime.now(UTC), rcpt_tos=cfg.mail.accept_addresses[:1])
    _ingest(cfg, contact)


@inject_app.command("sms")
def inject_sms(number: str, text: str, config: ConfigOpt = None) -> None:
    """Ingest an SMS text directly (bypassing the modem)."""
    import hashlib

    from channels.base import ChannelKind, InboundContact

    cfg = _config(config)
    now = datetime.now(UTC)
    digest = hashlib.sha256(f"{number}|{now.isoformat()}|{text}".encode()).hexdigest()
    _ingest(
        cfg,
        InboundContact(
            channel=ChannelKind.SMS,
            external_id=f"cli:{digest}",
            sender=number,
            received_at=now,
            body=text,
        ),
    )


@modem_app.command("inject")
def modem_inject(
    text: str,
    sender: Annotated[str, typer.Option("--from", help="the citizen's number")] = "+381641234567",
    config: ConfigOpt = None,
) -> None:
    """Put an incoming SMS into the simulated modem (multipart when long)."""
    from sms.simulator import inject_incoming

    cfg = _config(config)
    parts = inject_incoming(Path(cfg.sms.device), sender, text)
    typer.echo(f"injected {parts} part(s) from {sender}")


@modem_app.command("check")
def modem_check(config: ConfigOpt = None) -> None:
    """Ask the configured modem what the gateway sees (model, signal, network, SMSC, SIM) and what to fix."""
    from sms.check import check_modem

    report = asyncio.run(check_modem(_config(config).sms))
    typer.echo("\n".join(report.lines()))
    raise typer.Exit(0 if report.ok else 1)


@modem_app.command("sent")
def modem_sent(config: ConfigOpt = None) -> None:
    """List the SMS the gateway sent through the simulated modem."""
    from sms.simulator import list_sent

    cfg = _config(config)
    for sms in list_sent(Path(cfg.sms.device)):
        typer.echo(f"{sms.when:%Y-%m-%d %H:%M:%S} → {sms.recipient}: {sms.text}")


@app.command()
def transcribe(
    ticket: Annotated[str, typer.Option("--ticket", help="reference, e.g. S48-2026-000123")],
    config: ConfigOpt = None,
) -> None:
    """Re-run transcription of a ticket's voicemail now (queues nothing; writes a new transcript)."""
    from sqlmodel import select

    from gateway.app import build_gateway
    from storage.db import session_scope
    from storage.models import AttachmentRow, Ticket

    cfg = _config(config)
    _upgrade(cfg)
    gw = build_gateway(cfg, roles={"transcribe"})
    with session_scope(gw.engine) as s:
        row = s.exec(select(Ticket).where(Ticket.reference == ticket)).first()
        audio = s.exec(
            select(AttachmentRow).where(
                AttachmentRow.ticket_id == (row.id if row else -1), AttachmentRow.kind == "audio"
            )
        ).all()
    if not audio or gw.transcription is None:
        typer.echo(f"error: no voicemail on {ticket} (or transcription disabled)", err=True)
        raise typer.Exit(1)
    for att in audio:
        assert att.id is not None
        result = gw.transcription.transcribe_attachment(att.id)
        typer.echo(f"{att.filename}: {'no speech' if not result.has_speech else result.text}")


@app.command()
def backup(
    dest: Annotated[Path, typer.Argument(help="a new, empty directory")],
    config: ConfigOpt = None,
) -> None:
    """Write a consistent snapshot (database, blobs, config without secrets, manifest) while running."""
    from gateway.backup import BackupError, create_backup

    try:
        manifest = create_backup(_config(config), dest, config_file=config)
    except BackupError as exc:
        typer.echo(f"backup failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"backup in {dest}: schema {manifest['alembic_revision']}, {manifest['counts']}")


@app.command()
def restore(
    src: Annotated[Path, typer.Argument(help="a directory written by `sistem48 backup`")],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="replace a database and blob store that hold data")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Restore a backup into the configured (empty) database and data directory; then migrate it."""
    from gateway.backup import BackupError, restore_backup

    try:
        manifest = restore_backup(_config(config), src, overwrite=overwrite)
    except BackupError as exc:
        typer.echo(f"restore failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"restored {manifest['counts']} from {manifest['created_at']}")
    if manifest["secrets_not_included"]:
        typer.echo("set these in the environment file: " + ", ".join(manifest["secrets_not_included"]))


@app.command("health-mail")
def health_mail(config: ConfigOpt = None) -> None:
    """Queue today's health mail to the administrator when something was degraded (a daily timer)."""
    from gateway.healthmail import live_health, queue_health_mail
    from gateway.workers import worker_id
    from storage.db import make_engine

    cfg = _config(config)
    engine = make_engine(cfg.database_url())
    queued = queue_health_mail(
        engine, cfg, lambda: datetime.now(UTC), live_health(cfg), worker_id(cfg.gateway.instance_name)
    )
    engine.dispose()
    typer.echo("health mail queued" if queued else "nothing to report (or already queued today)")


def main() -> None:
    """Every failure is one line on stderr and exit status 1; SISTEM48_TRACEBACK=1 shows the traceback."""
    import os

    try:
        app()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as exc:
        if os.environ.get("SISTEM48_TRACEBACK"):
            raise
        detail = (str(exc).strip().splitlines() or [""])[0]
        typer.echo(
            f"error: {type(exc).__name__}: {detail}" if detail else f"error: {type(exc).__name__}", err=True
        )
        raise SystemExit(1) from None
