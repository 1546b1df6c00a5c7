"""`python -m bot serve` as a real process, against a Slack that takes its token, refuses it, or cannot be reached:
auth.test at start (again with backoff), /healthz says which, the error path never raises, no bolt token warning."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.local import free_port
from bot.localslack import FakeSlack, SlackSender

ROOT = Path(__file__).resolve().parents[1]
SECRET = "serve-slack-test-signing-secret"


class Serve:
    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = (tmp_path / f"serve-{self.port}.log").open("w+", encoding="utf-8")
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
                    "PORT": str(self.port), "SLACK_SIGNING_SECRET": SECRET, "BOT_ADMINS": "U_ADMIN"} | env
        self.process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=full_env,
                                        stdout=self.log, stderr=subprocess.STDOUT, text=True)

    def health(self, until: Any = lambda body: body.get("slack") not in (None, "checking")) -> httpx.Response:
        """/healthz once `until` holds for its body (Slack's first answer by default)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                response = httpx.get(f"{self.base}/healthz", timeout=2)
                if until(response.json()):
                    return response
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"/healthz never satisfied the test: {self.output()[-3000:]}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> str:
        if self.log.closed:
            return self.stopped
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)
        self.stopped = self.output()
        self.log.close()
        return self.stopped


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for served in started:
        served.stop()


def test_slack_takes_the_token_healthz_says_ok_and_bolt_does_not_warn(serving: list[Serve], tmp_path: Path,
                                                                       fake: FakeSlack) -> None:
    served = Serve(tmp_path, SLACK_BOT_TOKEN="xoxb-serve-slack-test", SLACK_API_URL=fake.api_url)
    serving.append(served)
    response = served.health()
    assert response.status_code == 200 and response.json()["slack"] == "ok"
    assert [c.method for c in fake.calls].count("auth.test") >= 1
    output = served.stop()
    assert "will be unused" not in output  # bolt's "As you gave `client` as well, `token` will be unused"
    assert "xoxb-serve-slack-test" not in output


def test_a_rejected_token_is_said_clearly_and_healthz_is_503(serving: list[Serve], tmp_path: Path,
                                                              fake: FakeSlack) -> None:
    served = Serve(tmp_path, SLACK_BOT_TOKEN="xoxp-not-a-bot-token", SLACK_API_URL=fake.api_url)
    serving.append(served)
    response = served.health()
    assert response.status_code == 503
    assert response.json()["slack"] == "token rejected" and response.json()["database"] == "ok"
    output = served.stop()
    assert "Slack rejected SLACK_BOT_TOKEN (invalid_auth)" in output
    assert "xoxp-not-a-bot-token" not in output


async def test_unreachable_slack_is_retried_reported_and_a_command_never_raises_in_the_error_path(
        serving: list[Serve], tmp_path: Path, fake: FakeSlack) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    served = Serve(tmp_path, SLACK_BOT_TOKEN="xoxb-serve-slack-test", SLACK_API_URL=nowhere)
    serving.append(served)
    response = served.health()
    assert response.status_code == 200 and response.json()["slack"] == "unreachable"  # a Slack outage: no restart
    sender = SlackSender(SECRET, httpx.AsyncClient(base_url=served.base, timeout=30), fake=fake)
    try:
        # /mfa enroll opens a modal: the listener's Slack call fails, then the error handler's own one does.
        answer = await sender.command("/mfa", "enroll", user_id="U_ADMIN", channel_id="C_OPS")
    finally:
        await sender.http.aclose()
    assert answer.status_code == 200
    deadline = time.monotonic() + 30
    while "could not tell U_ADMIN about a failure" not in served.output() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)  # the retries' log lines
    output = served.stop()
    assert "could not tell U_ADMIN about a failure: Slack unreachable" in output
    assert "Traceback" not in output.split("could not tell U_ADMIN")[1]  # the error path itself raised nothing
    assert output.count("auth.test again in") >= 2  # retried, with backoff
