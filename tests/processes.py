"""Real processes for crash and replica tests: `python -m bot emulator` as SORACOM, `python -m bot serve` as the bot,
the local Slack stand-in in the test's own process; SIGKILL where a crash is wanted."""

from __future__ import annotations

import asyncio
import ctypes
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from collections.abc import Callable
from typing import IO, Any

import httpx

from bot.emulator import DEMO_AUTH_KEY, DEMO_AUTH_KEY_ID
from bot.local import free_port
from bot.localslack import FakeSlack, SlackSender

ROOT = Path(__file__).resolve().parents[1]
SIGNING_SECRET = "crash-test-signing-secret"
SECRET_KEY = "crash-test-secret-key-not-secret"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _dies_with_the_test_run() -> None:
    """A bot or emulator a test started ends with the test process, even one killed from outside (no fixture
    teardown then): left running, a bot would sweep the shared PostgreSQL test database for the next run's jobs."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _log_file(path: Path) -> IO[str]:
    """A process's output goes to a file: a pipe nobody reads fills up (uvicorn logs every request) and stalls it."""
    return path.open("w+", encoding="utf-8")


def _output(log: IO[str]) -> str:
    log.seek(0)
    return log.read()


def _copy(source: IO[str] | None, log: IO[str]) -> None:
    assert source is not None
    for line in source:
        log.write(line)
        log.flush()


def output_of(log: IO[str]) -> str:
    """What a running process wrote so far."""
    log.flush()
    with open(log.name, encoding="utf-8") as copy:
        return copy.read()


def _wait_until_up(url: str, process: subprocess.Popen[str], log: IO[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited: {_output(log)[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"{what} did not start: {_output(log)[-3000:]}")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), **extra}


class Emulator:
    """`python -m bot emulator`: SORACOM's state outlives the bot processes that are killed."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = _log_file(tmp_path / f"emulator-{self.port}.log")
        self.process = subprocess.Popen([sys.executable, "-m", "bot", "emulator", "--port", str(self.port)],
                                        cwd=tmp_path, env=_env(tmp_path), stdout=self.log,
                                        stderr=subprocess.STDOUT, text=True, preexec_fn=_dies_with_the_test_run)
        _wait_until_up(f"{self.url}/_emulator/stats", self.process, self.log, "the emulator")

    def control(self, method: str, path: str, json: Any = None) -> Any:
        response = httpx.request(method, f"{self.url}/_emulator{path}", json=json, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def requests(self, operation_id: str) -> list[dict[str, Any]]:
        return [r for r in self.control("GET", "/requests") if r.get("operationId") == operation_id]

    def subscriber(self, imsi: str) -> dict[str, Any]:
        return self.control("GET", f"/subscribers/{imsi}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


class Bot:
    """One `python -m bot serve` on the shared database, talking to the emulator process and the stand-in."""

    def __init__(self, tmp_path: Path, *, database_url: str, emulator: Emulator, fake: FakeSlack, name: str,
                 lease: float = 3.0, admins: str = "U_ADMIN,U_OP", file_size_limit: int | None = None,
                 data_dir: str | None = None, env: dict[str, str] | None = None) -> None:
        """`file_size_limit`: no file the bot writes may grow past it (RLIMIT_FSIZE, a full disk as the bot sees
        it); its output then goes through a pipe, which no file-size limit applies to."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = name
        env = _env(tmp_path, PORT=str(self.port), DATABASE_URL=database_url, BOT_DATA_DIR=data_dir or str(tmp_path / name),
                   SLACK_BOT_TOKEN="xoxb-crash-test", SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake.api_url,
                   SORACOM_ENDPOINT=emulator.url, SORACOM_AUTH_KEY_ID=DEMO_AUTH_KEY_ID, SORACOM_AUTH_KEY=DEMO_AUTH_KEY,
                   BOT_SECRET_KEY=SECRET_KEY, BOT_ADMINS=admins, BOT_JOB_LEASE_SECONDS=str(lease), **(env or {}))
        self.log = _log_file(tmp_path / f"bot-{name}.log")
        self._copier: threading.Thread | None = None
        if file_size_limit is None:
            self.process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env,
                                            stdout=self.log, stderr=subprocess.STDOUT, text=True,
                                            preexec_fn=_dies_with_the_test_run)
        else:
            def limited() -> None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
                _dies_with_the_test_run()

            env["PYTHONDONTWRITEBYTECODE"] = "1"  # a .pyc cut at the limit would break every later import
            self.process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                            preexec_fn=limited)
            self._copier = threading.Thread(target=_copy, args=(self.process.stdout, self.log), daemon=True)
            self._copier.start()
        _wait_until_up(f"{self.url}/healthz", self.process, self.log, f"bot {name}")
        self.fake = fake
        self.sender = SlackSender(SIGNING_SECRET, httpx.AsyncClient(base_url=self.url, timeout=30), fake=fake)

    async def settle(self, quiet: float = 0.5, timeout: float = 30.0) -> None:
        """Until Slack has heard nothing from the bot for `quiet` seconds (it works in another process)."""
        deadline = time.monotonic() + timeout
        seen = -1
        while time.monotonic() < deadline:
            if len(self.fake.calls) == seen:
                return
            seen = len(self.fake.calls)
            await asyncio.sleep(quiet)
        raise TimeoutError(f"bot {self.name} kept talking to Slack for {timeout} s")

    def worker_pid(self) -> int:
        """The worker process serve started (bot.postack), which runs the bot's work."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        workers = [int(child) for child in children
                   if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]
        assert len(workers) == 1, f"serve's children: {children}"
        return workers[0]

    def kill_worker(self) -> int:
        """SIGKILL of the worker alone: serve stays up, acks Slack, and starts another worker."""
        pid = self.worker_pid()
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill(self) -> None:
        """SIGKILL: no cleanup, no finally, as an out-of-memory kill or a deploy that does not wait."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def stop(self) -> str:
        await self.sender.http.aclose()
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)
        if self._copier is not None:
            self._copier.join(10)
        output = _output(self.log)
        self.log.close()
        return output


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Until `condition` holds: the bots work in processes of their own, at their own pace."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
