"""`python -m bot serve` as a real process: /healthz, then a signed slash command over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.local import free_port
from bot.localslack import FakeSlack, SlackSender

ROOT = Path(__file__).resolve().parents[1]
SECRET = "serve-test-signing-secret"


@pytest.fixture
def server(fake: FakeSlack, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "PORT": str(port),
        "SLACK_BOT_TOKEN": "xoxb-serve-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "BOT_ADMINS": "U_ADMIN",
    }
    process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            process.terminate()
            pytest.fail(f"serve did not become healthy: {process.communicate(timeout=10)[0][-2000:]}")
        yield base
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
        assert SECRET not in output and "xoxb-serve-test" not in output


async def test_serve_answers_a_signed_command_over_http(server: str, fake: FakeSlack) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        health = await http.get("/healthz")
        assert health.json() == {"ok": True, "sandbox": True, "database": "ok"}
        sender = SlackSender(SECRET, http, fake=fake)
        response = await sender.command("/soracom", "roles", user_id="U_ADMIN", channel_id="C1")
        assert response.status_code == 200
        call = await fake.wait_for("response_url", timeout=20)
        assert "U_ADMIN" in str(call.args) and "admin" in str(call.args)
        forged = await sender.with_signature(secret="wrong").command("/soracom", "roles", user_id="U_ADMIN")
        assert forged.status_code == 401
