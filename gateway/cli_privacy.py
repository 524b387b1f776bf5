"""`sistem48 retention` (the sweep by hand, --dry-run counts) and `sistem48 citizen export|erase`
(a citizen's request about their data, for the data protection officer at the console)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli_options import ConfigOpt, read_config

citizen_app = typer.Typer(no_args_is_help=True, help="A citizen's request: export or erase their data.")


def _now() -> datetime:
    return datetime.now(UTC)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def retention(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only count what is due, per kind")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask before removing")] = False,
    config: ConfigOpt = None,
) -> None:
    """Apply the retention periods of the config now (the gateway does it daily): remove what is due."""
    from gateway.retention import Retention
    from storage.blobs import BlobStore
    from storage.db import make_engine

    cfg = read_config(config)
    engine = make_engine(cfg.database_url())
    blobs = BlobStore(Path(cfg.gateway.data_dir).absolute() / "blobs")
    sweep = Retention(engine, blobs, cfg.retention, cfg.gateway.default_region, _now)
    try:
        due = sweep.run(dry_run=True)
        for kind, n in due.items():
            typer.echo(f"{kind:16} {n}")
        if dry_run:
            return
        if not yes and not typer.confirm("Remove these now?", default=False):
            raise typer.Exit(1)
        done = sweep.run(actor=_actor())
        typer.echo("removed: " + " ".join(f"{k}={v}" for k, v in done.items()))
    finally:
        engine.dispose()


@citizen_app.command("export")
def citizen_export(
    who: Annotated[str, typer.Argument(help="phone number (any spelling) or e-mail address")],
    out: Annotated[Path, typer.Option("--out", help="directory for citizen-N.json and .html")] = Path("."),
    config: ConfigOpt = None,
) -> None:
    """Write everything held about one person as JSON and as a readable HTML page (audit-logged)."""
    from gateway.erasure import NotFound, export, export_html, export_json, find_subject
    from storage.db import make_engine, session_scope

    cfg = read_config(config)
    engine = make_engine(cfg.database_url())
    try:
        with session_scope(engine, write=True) as s:
            subject = find_subject(s, who, cfg.gateway.default_region)
            data = export(s, subject, _actor(), "export (sistem48 citizen export)")
    except NotFound:
        typer.echo("nobody is known by that number or address", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"citizen-{subject.citizen_id}"
    stem.with_suffix(".json").write_text(export_json(data), encoding="utf-8")
    stem.with_suffix(".html").write_text(export_html(data), encoding="utf-8")
    typer.echo(f"{stem}.json, {stem}.html: {len(data['tickets'])} tickets, {len(data['messages'])} messages")


@citizen_app.command("erase")
def citizen_erase(
    who: Annotated[str, typer.Argument(help="phone number (any spelling) or e-mail address")],
    confirm: Annotated[
        str | None, typer.Option("--confirm", help="the same number or address again (else asked for)")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Erase one person: identities, messages, recordings, transcripts, photos, replies; the tickets
    stay, anonymised. Needs the number or address typed a second time."""
    from gateway.erasure import ConfirmationMismatch, NotFound, erase_person
    from storage.blobs import BlobStore
    from storage.db import make_engine

    cfg = read_config(config)
    if confirm is None:
        confirm = typer.prompt("Type the number or address again to erase it")
    engine = make_engine(cfg.database_url())
    blobs = BlobStore(Path(cfg.gateway.data_dir).absolute() / "blobs")
    try:
        counts = erase_person(engine, blobs, who, confirm, _actor(), _now(), cfg.gateway.default_region)
    except ConfirmationMismatch:
        typer.echo("the two entries differ: nothing erased", err=True)
        raise typer.Exit(1) from None
    except NotFound:
        typer.echo("nobody is known by that number or address", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo("erased: " + " ".join(f"{k}={v}" for k, v in counts.items()))
