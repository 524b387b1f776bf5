"""Config: the embedded defaults load; a bad file stops start-up with one line naming key and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import EMBEDDED_DEFAULTS, ConfigError, load_config


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_is_the_embedded_default() -> None:
    example = Path(__file__).parents[2] / "config.example.toml"
    assert example.resolve() == EMBEDDED_DEFAULTS.resolve()
    cfg = load_config(example)
    assert cfg.http.port == 8048 and cfg.database.url.startswith("sqlite")
    assert {u.code for u in cfg.utilities} >= {
        "vodovod",
        "rasveta",
        "cistoca",
        "zelenilo",
        "putevi",
        "parking",
        "toplana",
        "komunalna_inspekcija",
        "komunalna_milicija",
    }
    assert {c.sla_hours for c in cfg.categories} == {24, 48}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[http]\nprot = 8048\n", "http.prot: unknown key"),
        ("[http]\nport = 'eighty'\n", "http.port: Input should be a valid integer"),
        (
            "[gateway]\ntimezone = 'Mars/Olympus'\n",
            "gateway.timezone: Value error, unknown time zone",
        ),
        ("[business_hours]\nmonday = '16:00-08:00'\n", "business_hours.monday: Value error, span"),
        ("[database]\nurl = 'mysql://x'\n", "database.url: Value error, only sqlite"),
        ("[[categories]]\ncode='x'\nname='X'\nutility='nobody'\n", "unknown utility 'nobody'"),
        ("[sms]\nencoding_policy = 'ascii'\n", "sms.encoding_policy: Input should be"),
        ("[gateway\n", "not valid TOML"),
    ],
)
def test_bad_config_gives_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, text))
    message = str(err.value)
    assert "\n" not in message
    assert expected in message
    assert str(tmp_path / "c.toml") in message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_secret_comes_from_environment_when_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(_write(tmp_path, f"[gateway]\ndata_dir = '{tmp_path}'\n"))
    generated = cfg.secret()
    assert cfg.secret() == generated and (tmp_path / "secret.key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("SISTEM48_SECRET", "from-env")
    assert cfg.secret() == b"from-env"


def test_relative_paths_follow_the_directory_the_config_file_is_named_in(tmp_path: Path) -> None:
    # config.example.toml at the top of the checkout is a symlink into the package: its paths must
    # mean the checkout, where `scripts/run.sh` runs, not the package directory.
    real = tmp_path / "package" / "defaults.toml"
    real.parent.mkdir()
    real.write_text("[gateway]\ndata_dir = 'var'\n[database]\nurl = 'sqlite:///var/s.db'\n")
    site = tmp_path / "site"
    site.mkdir()
    (site / "config.toml").symlink_to(real)
    config = load_config(site / "config.toml")
    assert config.gateway.data_dir == site / "var"
    assert config.database_url() == f"sqlite:///{site / 'var' / 's.db'}"
    assert load_config(real).gateway.data_dir == real.parent / "var"
