"""What every `sistem48` command shares: the --config option and reading it with a one-line error."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.config import Config, ConfigError, load_config

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML file; default: the embedded defaults",
        envvar="SISTEM48_CONFIG",
        exists=False,
    ),
]


def read_config(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(f"config error: {exc}", err=True)
        raise typer.Exit(2) from None
