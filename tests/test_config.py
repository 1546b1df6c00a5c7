"""Configuration: the contract's names and defaults, and one clear line for bad values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_follow_the_contract() -> None:
    s = load_settings(_env_file=None)
    assert s.SLACK_API_URL == "https://slack.com/api/"
    assert s.SORACOM_COVERAGE == "jp" and s.soracom_endpoint == "https://api.soracom.io"
    assert s.DATABASE_URL == "sqlite:///data/bot.db"
    assert s.PORT == 3000 and s.public_url == "http://localhost:3000"
    assert s.BOT_TIMEZONE == "Asia/Tokyo"
    assert s.BILL_SUMMARY_CRON == "0 9 4 * *" and s.BILL_SUMMARY_CHANNEL is None
    assert s.uses_emulator


def test_endpoint_wins_over_coverage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORACOM_COVERAGE", "g")
    assert load_settings(_env_file=None).soracom_endpoint == "https://g.api.soracom.io"
    monkeypatch.setenv("SORACOM_ENDPOINT", "https://api-sandbox.soracom.io/")
    assert load_settings(_env_file=None).soracom_endpoint == "https://api-sandbox.soracom.io"


def test_credentials_choose_the_real_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORACOM_AUTH_KEY_ID", "keyId-x")
    monkeypatch.setenv("SORACOM_AUTH_KEY", "secret-x")
    assert not load_settings(_env_file=None).uses_emulator
    monkeypatch.delenv("SORACOM_AUTH_KEY")
    with pytest.raises(ConfigError, match="SORACOM_AUTH_KEY_ID is set but SORACOM_AUTH_KEY is not"):
        load_settings(_env_file=None)


INCOMPLETE_CREDENTIALS = [
    ({"SORACOM_EMAIL": "ops@example.test"}, "SORACOM_PASSWORD"),
    ({"SORACOM_PASSWORD": "pw"}, "SORACOM_EMAIL"),
    ({"SORACOM_OPERATOR_ID": "OP0000000000", "SORACOM_USER_NAME": "bot"}, "SORACOM_PASSWORD"),
    ({"SORACOM_OPERATOR_ID": "OP0000000000", "SORACOM_PASSWORD": "pw"}, "SORACOM_USER_NAME"),
    ({"SORACOM_USER_NAME": "bot", "SORACOM_PASSWORD": "pw"}, "SORACOM_OPERATOR_ID"),
    ({"SORACOM_AUTH_KEY_ID": "keyId-x"}, "SORACOM_AUTH_KEY"),
    ({"SORACOM_AUTH_KEY": "secret-x"}, "SORACOM_AUTH_KEY_ID"),
    ({"SORACOM_EMAIL": "ops@example.test", "SORACOM_PASSWORD": "pw", "SORACOM_USER_NAME": "bot"},
     "SORACOM_OPERATOR_ID"),
]


@pytest.mark.parametrize(("given", "missing"), INCOMPLETE_CREDENTIALS)
def test_serve_refuses_an_incomplete_credential_group(tmp_path: Path, given: dict[str, str], missing: str) -> None:
    """Before, each of these silently served the real workspace on the emulator's fake SIMs."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": "xoxb-t",
           "SLACK_SIGNING_SECRET": "s", "PORT": "1"} | given
    result = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"set {missing}" in result.stderr or f"but {missing}" in result.stderr
    assert "Traceback" not in result.stderr and "pw" not in result.stderr.replace("password", "")
    assert not (tmp_path / "data").exists()  # nothing started


@pytest.mark.parametrize(("given", "missing"), INCOMPLETE_CREDENTIALS[:1])
def test_setup_refuses_an_incomplete_credential_group_too(tmp_path: Path, given: dict[str, str],
                                                          missing: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)} | given
    result = subprocess.run([sys.executable, "-m", "bot", "setup", "login"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and missing in result.stdout + result.stderr


def test_the_console_always_runs_on_the_emulator(tmp_path: Path) -> None:
    """The console is the local trial: credentials around it (complete or not) are neither used nor refused."""
    for given in ({"SORACOM_EMAIL": "ops@example.test"},
                  {"SORACOM_AUTH_KEY_ID": "keyId-x", "SORACOM_AUTH_KEY": "secret-x",
                   "SORACOM_ENDPOINT": "http://127.0.0.1:9"}):
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)} | given
        result = subprocess.run([sys.executable, "-m", "bot", "console", "-c", "/sim list"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "25 SIMs" in result.stdout


def test_host_defaults_to_every_address() -> None:
    assert load_settings(_env_file=None).HOST == "0.0.0.0"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SORACOM_COVERAGE", "eu", "SORACOM_COVERAGE must be 'jp' or 'g'"),
        ("SORACOM_ENDPOINT", "api.soracom.io", "SORACOM_ENDPOINT must be an http(s) URL"),
        ("SORACOM_ENDPOINT", "https://api.soracom.io/v1", "without /v1"),
        ("BILL_SUMMARY_CRON", "0 9 4 *", "5 fields"),
        ("BILL_SUMMARY_CRON", "0 99 4 * *", "bad cron expression"),
        ("BOT_TIMEZONE", "Mars/Olympus", "IANA time zone"),
        ("PORT", "http", "PORT"),
        ("DATABASE_URL", "mysql://x", "sqlite:// or postgresql://"),
    ],
)
def test_bad_values_fail_with_one_clear_line(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                             expected: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_configuration_at_start_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "SORACOM_COVERAGE": "eu", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env | {"PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "SORACOM_COVERAGE must be 'jp' or 'g'" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_without_slack_settings_says_what_to_set(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET" in result.stderr
    assert "python -m bot console" in result.stderr
