"""`python -m bot serve` as a real process: /healthz, signed commands over real HTTP, start-up, files, limits."""

from __future__ import annotations

import json
import asyncio
import os
import re
import select
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from bot.local import free_port
from bot.localslack import FakeSlack, SlackSender

ROOT = Path(__file__).resolve().parents[1]
SECRET = "serve-test-signing-secret"


@dataclass
class Served:
    base: str
    process: subprocess.Popen[str]
    cwd: Path
    output: list[str] = field(default_factory=list)

    def stop(self) -> str:
        """Stops the process; everything it printed."""
        if not self.output:
            self.process.terminate()
            self.output.append(self.process.communicate(timeout=20)[0])
        return self.output[0]


Start = Callable[..., Served]


@pytest.fixture
def start(fake: FakeSlack, tmp_path: Path) -> Iterator[Start]:
    """Starts `serve` in a fresh folder (the data folder is its ./data) with extra environment variables."""
    started: list[Served] = []

    def run(host: str = "127.0.0.1", **env: str) -> Served:
        port = free_port()
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "PYTHONPATH": str(ROOT),
            "PORT": str(port),
            "SLACK_BOT_TOKEN": "xoxb-serve-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "BOT_ADMINS": "U_ADMIN",
        } | env
        process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=full_env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        served = Served(f"http://{host}:{port}", process, tmp_path)
        started.append(served)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{served.base}/healthz", timeout=1).status_code == 200:
                    return served
            except httpx.TransportError:
                time.sleep(0.2)
        pytest.fail(f"serve did not become healthy: {served.stop()[-2000:]}")

    yield run
    for served in started:
        output = served.stop()
        assert SECRET not in output and "xoxb-serve-test" not in output


@pytest.fixture
def server(start: Start) -> str:
    return start().base


async def test_serve_answers_a_signed_command_over_http(server: str, fake: FakeSlack) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        health = await http.get("/healthz")
        assert health.json() | {"slack": "ok"} == {"ok": True, "sandbox": True, "database": "ok", "slack": "ok"}
        sender = SlackSender(SECRET, http, fake=fake)
        response = await sender.command("/soracom", "roles", user_id="U_ADMIN", channel_id="C1")
        assert response.status_code == 200
        call = await fake.wait_for("response_url", timeout=20)
        assert "U_ADMIN" in str(call.args) and "admin" in str(call.args)
        forged = await sender.with_signature(secret="wrong").command("/soracom", "roles", user_id="U_ADMIN")
        assert forged.status_code == 401


async def test_a_replayed_command_runs_once_when_the_bot_runs_in_its_worker(server: str, fake: FakeSlack) -> None:
    """The server's process acks at once; its memory, then the worker's database check, drop the copy."""
    sent_at = time.time()
    async with httpx.AsyncClient(base_url=server) as http:
        sender = SlackSender(SECRET, http, fake=fake).with_signature(clock=lambda: sent_at)
        form = sender.command_form("/soracom", "roles", user_id="U_ADMIN", channel_id="C1")
        body = urlencode(form).encode()
        answers = [await sender.post(body) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 200]
        await fake.wait_for("response_url", timeout=20)
        await asyncio.sleep(1.0)
    assert len(fake.calls_to("response_url")) == 1


def test_the_sandbox_is_said_loudly_at_start(start: Start) -> None:
    served = start()
    assert httpx.get(f"{served.base}/healthz").json()["sandbox"] is True
    assert re.search(r"WARNING .*no SORACOM credentials.*sandbox", served.stop())


def test_with_credentials_there_is_no_sandbox(start: Start) -> None:
    # Nothing listens on port 9: nothing here may reach a real SORACOM, and start-up does not call it.
    served = start(SORACOM_AUTH_KEY_ID="keyId-serve", SORACOM_AUTH_KEY="secret-serve",
                   SORACOM_ENDPOINT="http://127.0.0.1:9")
    health = httpx.get(f"{served.base}/healthz").json()
    assert health | {"slack": "ok"} == {"ok": True, "sandbox": False, "database": "ok", "slack": "ok"}
    assert "sandbox" not in served.stop()


def test_host_chooses_the_address_serve_binds(start: Start) -> None:
    """127.0.0.2 is loopback too: bound there, the bot must not answer on 127.0.0.1 (it did on 0.0.0.0)."""
    served = start(host="127.0.0.2", HOST="127.0.0.2")
    assert httpx.get(f"{served.base}/healthz").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(served.base.replace("127.0.0.2", "127.0.0.1") + "/healthz", timeout=2)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_and_its_files_are_private_after_a_real_start(start: Start) -> None:
    served = start()
    data = served.cwd / "data"
    httpx.get(f"{served.base}/healthz")
    files = {p.name: mode(p) for p in data.iterdir()}
    assert mode(data) == 0o700
    assert files == {"bot.db": 0o600, "bot.db-wal": 0o600, "bot.db-shm": 0o600, "secret.key": 0o600}


def test_files_an_older_version_left_readable_are_made_private(start: Start, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    (data / "secret.key").write_text("an-older-key\n")
    os.chmod(data / "secret.key", 0o644)
    served = start()
    os.chmod(data / "bot.db", 0o644)  # as an older version created it
    served.stop()
    served = start()
    assert mode(data) == 0o700
    assert {p.name: mode(p) for p in data.iterdir()} == {
        "bot.db": 0o600, "bot.db-wal": 0o600, "bot.db-shm": 0o600, "secret.key": 0o600}


async def test_the_enrollment_token_stays_out_of_the_access_log(start: Start, fake: FakeSlack) -> None:
    served = start()
    async with httpx.AsyncClient(base_url=served.base) as http:
        await SlackSender(SECRET, http, fake=fake).command("/mfa", "enroll", user_id="U_ADMIN", channel_id="C1")
        view = await fake.wait_for("views.open", timeout=20)
        link = re.search(r"http://localhost:\d+(/mfa/enroll/[\w-]+)", json.dumps(view.args)).group(1)
        assert (await http.get(link)).status_code == 200
        assert (await http.get(link)).status_code == 410
    output = served.stop()
    token = link.rsplit("/", 1)[1]
    assert output.count('"GET /mfa/enroll/[redacted] HTTP/1.1" 410') == 1
    assert token not in output


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def post_oversized(base: str, *, chunked: bool, size: int = 50 * 1024 * 1024) -> bytes:
    """Sends up to `size` bytes as fast as the server takes them, stopping once it answers; returns the answer."""
    host, port = base.removeprefix("http://").split(":")
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST /slack/events HTTP/1.1\r\nHost: {host}\r\n{framing}\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode())
        chunk = b"x" * 65536
        sent = 0
        while sent < size and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(b"10000\r\n" + chunk + b"\r\n" if chunked else chunk)
            except OSError:
                break
            sent += len(chunk)
        return sock.recv(4096)


@pytest.mark.parametrize("chunked", [False, True])
def test_oversized_bodies_are_413_without_growing_the_process(start: Start, chunked: bool) -> None:
    """Four 50 MB POSTs took an unbounded server from 96 MB to 748 MB of RSS before its 401."""
    served = start()
    before = rss_kib(served.process.pid)
    for _ in range(4):
        assert post_oversized(served.base, chunked=chunked).startswith(b"HTTP/1.1 413")
    assert rss_kib(served.process.pid) - before < 20 * 1024
    assert httpx.get(f"{served.base}/healthz").status_code == 200
