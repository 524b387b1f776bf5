"""`sistem48 backup` / `restore`: a consistent snapshot of the database, the blob store and the config
(never its secrets) with a checksummed manifest, taken while the gateway runs; restored on a new box."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from channels.clock import utc_now
from gateway.config import Config
from gateway.progress import ProgressFactory, terminal_or_journal
from storage.db import make_engine, upgrade

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
CONFIG_FILE = "config.toml"
BLOBS = "blobs"
_CHUNK = 1024 * 1024
# Rows an administrator can check a restore against.
_COUNTED = ("ticket", "message", "citizen", "attachment", "outbox", "inbound_spool")
_URL_PASSWORD = re.compile(r"(://[^:/@\s\"']+):[^@\s\"']*@")


def _count_sql(table: str) -> str:
    assert table in _COUNTED
    return f'SELECT count(*) FROM "{table}"'  # noqa: S608 - a name from the fixed tuple above


class BackupError(Exception):
    """What went wrong and what to do, in one line."""


@dataclass(frozen=True)
class Target:
    """Where the live data is: the database URL and the blob store directory."""

    database_url: str
    blob_dir: Path

    @classmethod
    def of(cls, config: Config) -> Target:
        return cls(config.database_url(), config.gateway.data_dir.absolute() / "blobs")

    @property
    def kind(self) -> str:
        return "sqlite" if self.database_url.startswith("sqlite") else "postgresql"

    def sqlite_path(self) -> Path:
        return Path(self.database_url.split("///", 1)[1])


def create_backup(
    config: Config,
    dest: Path,
    *,
    config_file: Path | None = None,
    progress: ProgressFactory = terminal_or_journal,
) -> dict[str, Any]:
    """Write a snapshot into `dest` (new or empty). The database goes first and the blobs after it:
    a blob is written before the row that names it commits, so every blob the snapshot references
    is already in the store when the store is copied."""
    target = Target.of(config)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty; give a new directory for each backup")
    dest.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Any]] = {}
    step = progress("backup: database", 1, "snapshot")
    if target.kind == "sqlite":
        revision, counts = _sqlite_snapshot(target.sqlite_path(), dest / SQLITE_FILE)
        files[SQLITE_FILE] = _describe(dest / SQLITE_FILE)
    else:
        revision, counts = _pg_snapshot(target.database_url, dest / PG_FILE)
        files[PG_FILE] = _describe(dest / PG_FILE)
    step.advance()
    step.done(f"schema {revision}, {counts.get('ticket', 0)} tickets")
    files.update(_copy_blobs(target.blob_dir, dest / BLOBS, progress))
    secret_names: list[str] = []
    if config_file is not None:
        (dest / CONFIG_FILE).write_text(redact(config_file.read_text(encoding="utf-8")), encoding="utf-8")
        files[CONFIG_FILE] = _describe(dest / CONFIG_FILE)
        secret_names = sorted(set(_secret_env_names(config.model_dump(mode="json"))))
    manifest = {
        "format": FORMAT,
        "created_at": utc_now().isoformat(),
        "database": target.kind,
        "alembic_revision": revision,
        "counts": counts,
        "secrets_not_included": secret_names,
        "files": files,
    }
    # The manifest is written last and renamed into place: a directory without it is not a backup.
    tmp = dest / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    _fsync(tmp)
    tmp.replace(dest / MANIFEST)
    return manifest


def verify_backup(src: Path, *, progress: ProgressFactory = terminal_or_journal) -> dict[str, Any]:
    """The manifest, once every file it lists has its recorded size and sha256."""
    try:
        manifest: dict[str, Any] = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{src} has no {MANIFEST}: not a backup, or one that did not finish") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')!r} is not {FORMAT}; use a matching release")
    files: dict[str, dict[str, Any]] = manifest["files"]
    step = progress("verify", sum(f["size"] for f in files.values()), "bytes")
    for name, want in files.items():
        path = src / name
        if not path.is_file():
            raise BackupError(f"{name} is missing from the backup")
        digest = _sha256(path, step.advance)
        if digest != want["sha256"]:
            raise BackupError(f"{name} does not match its checksum: the backup is damaged")
    step.done(f"{len(files)} files match the manifest")
    return manifest


def restore_backup(
    config: Config,
    src: Path,
    *,
    overwrite: bool = False,
    progress: ProgressFactory = terminal_or_journal,
) -> dict[str, Any]:
    """Bring a verified backup back into the configured database and blob store, then migrate it to
    this release's schema. A target holding data is refused unless `overwrite` is given."""
    manifest = verify_backup(src, progress=progress)
    target = Target.of(config)
    if manifest["database"] != target.kind:
        raise BackupError(
            f"the backup holds a {manifest['database']} database but the config names {target.kind}"
        )
    held = _data_held(target)
    if held and not overwrite:
        raise BackupError(f"the target is not empty ({held}); restore into an empty one, or add --overwrite")
    step = progress("restore: database", 1, "snapshot")
    if target.kind == "sqlite":
        _sqlite_restore(src / SQLITE_FILE, target.sqlite_path())
    else:
        _pg_restore(src / PG_FILE, target.database_url, clear=bool(held))
    step.advance()
    step.done()
    if target.blob_dir.exists() and overwrite:
        shutil.rmtree(target.blob_dir)
    blob_files = {n: f for n, f in manifest["files"].items() if n.startswith(BLOBS + "/")}
    blob_step = progress("restore: blobs", len(blob_files), "files")
    for name in blob_files:
        final = target.blob_dir / name.removeprefix(BLOBS + "/")
        final.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / name, final)
        _fsync(final)
        blob_step.advance()
    blob_step.done()
    (target.blob_dir / "tmp").mkdir(parents=True, exist_ok=True)
    upgrade(target.database_url)
    return manifest


def redact(toml_text: str) -> str:
    """The config file as text, with any password written into a URL replaced (secrets belong in
    the environment file, but a hand-edited database URL may still carry one)."""
    return _URL_PASSWORD.sub(r"\1:REDACTED@", toml_text)


def _secret_env_names(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("_env") and isinstance(value, str):
                yield value
            else:
                yield from _secret_env_names(value)
    elif isinstance(data, list):
        for item in data:
            yield from _secret_env_names(item)


# -- SQLite -------------------------------------------------------------------------------------


def _sqlite_snapshot(live: Path, out: Path) -> tuple[str, dict[str, int]]:
    if not live.exists():
        raise BackupError(f"no database at {live}")
    source = sqlite3.connect(f"file:{live}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(out)
    try:
        # One step (pages=-1) reads one WAL snapshot, so writers carry on and the copy never
        # restarts, which a page-by-page backup would do on every commit of the running gateway.
        source.backup(copy, pages=-1)
        copy.commit()
        revision = _sqlite_revision(copy)
        counts = {t: int(copy.execute(_count_sql(t)).fetchone()[0]) for t in _COUNTED}
    finally:
        copy.close()
        source.close()
    _fsync(out)
    return revision, counts


def _sqlite_revision(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else ""


def _sqlite_restore(backup_file: Path, live: Path) -> None:
    live.parent.mkdir(parents=True, exist_ok=True)
    for stale in (live, live.with_name(live.name + "-wal"), live.with_name(live.name + "-shm")):
        stale.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    dest = sqlite3.connect(live)
    try:
        source.backup(dest)
        dest.execute("PRAGMA journal_mode=WAL")
    finally:
        dest.close()
        source.close()


# -- PostgreSQL ---------------------------------------------------------------------------------


def _libpq_env(url: str) -> dict[str, str]:
    """pg_dump/pg_restore connection settings as PG* variables, so the password is never in argv."""
    u = sa.engine.make_url(url)
    env = dict(os.environ)
    for var, value in (
        ("PGHOST", u.host),
        ("PGPORT", u.port),
        ("PGUSER", u.username),
        ("PGPASSWORD", u.password),
        ("PGDATABASE", u.database),
    ):
        if value is not None:
            env[var] = str(value)
    return env


def _run(argv: list[str], env: dict[str, str]) -> None:
    if shutil.which(argv[0]) is None:
        raise BackupError(f"{argv[0]} is not installed: apt install postgresql-client")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackupError(f"{argv[0]} failed: {last}")


def _pg_snapshot(url: str, out: Path) -> tuple[str, dict[str, int]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            # pg_dump reads the very snapshot this transaction holds, so the revision and the counts
            # in the manifest describe exactly what is in the dump.
            conn.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            revision = str(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one())
            counts = {t: int(conn.exec_driver_sql(_count_sql(t)).scalar_one()) for t in _COUNTED}
            _run(
                ["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                 f"--snapshot={snapshot}", f"--file={out}"],
                _libpq_env(url),
            )  # fmt: skip
            conn.exec_driver_sql("COMMIT")
    finally:
        engine.dispose()
    _fsync(out)
    return revision, counts


def _pg_restore(dump: Path, url: str, *, clear: bool) -> None:
    if clear:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
        finally:
            engine.dispose()
    _run(
        ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
         "--dbname", _libpq_env(url).get("PGDATABASE", ""), str(dump)],
        _libpq_env(url),
    )  # fmt: skip


def _data_held(target: Target) -> str:
    """Empty when the target holds nothing; else what it holds, for the refusal message."""
    held = []
    if target.kind == "sqlite":
        path = target.sqlite_path()
        if path.exists() and path.stat().st_size > 0:
            lite = sqlite3.connect(path)
            try:
                tables = lite.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            finally:
                lite.close()
            if tables:
                held.append(f"{tables} tables in {path}")
    else:
        engine = make_engine(target.database_url)
        try:
            with engine.connect() as conn:
                tables = conn.exec_driver_sql(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
                ).scalar_one()
        finally:
            engine.dispose()
        if tables:
            held.append(f"{tables} tables in the database")
    blobs = [p for p in target.blob_dir.glob("*/*/*") if p.is_file()] if target.blob_dir.exists() else []
    if blobs:
        held.append(f"{len(blobs)} blobs in {target.blob_dir}")
    return ", ".join(held)


# -- files --------------------------------------------------------------------------------------


def _copy_blobs(store: Path, out: Path, progress: ProgressFactory) -> dict[str, dict[str, Any]]:
    names = sorted(p for p in store.glob("*/*/*") if p.is_file()) if store.exists() else []
    step = progress("backup: blobs", len(names), "files")
    files: dict[str, dict[str, Any]] = {}
    for path in names:
        rel = path.relative_to(store)
        final = out / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        with _atomic(final) as fh, path.open("rb") as src:
            digest = hashlib.sha256()
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                fh.write(chunk)
        if digest.hexdigest() != path.name:
            # The store names each blob by its sha256: a mismatch is bit rot on the live disk.
            raise BackupError(f"blob {rel} does not match its name: the live store is damaged")
        files[f"{BLOBS}/{rel}"] = {"sha256": path.name, "size": final.stat().st_size}
        step.advance()
    step.done()
    return files


@contextmanager
def _atomic(final: Path) -> Iterator[Any]:
    fd, tmp = tempfile.mkstemp(dir=final.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _describe(path: Path) -> dict[str, Any]:
    return {"sha256": _sha256(path), "size": path.stat().st_size}


def _sha256(path: Path, advance: Any = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            if advance is not None:
                advance(len(chunk))
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())
