"""`python -m bot emulator` as a real process: auth and a paged subscriber list over HTTP, as curl would; a remote
access endpoint in a request's path stays out of its access log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.emulator import DEMO_AUTH_KEY, DEMO_AUTH_KEY_ID
from bot.local import free_port
from tests.test_emulator import ONLINE_SIM

ROOT = Path(__file__).resolve().parents[1]


def test_emulator_serves_auth_and_pages(tmp_path: Path) -> None:
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "bot", "emulator", "--port", str(port)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                auth = httpx.post(f"{base}/auth", json={"authKeyId": DEMO_AUTH_KEY_ID, "authKey": DEMO_AUTH_KEY})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.2)
        assert auth.status_code == 200
        headers = {"X-Soracom-API-Key": auth.json()["apiKey"], "X-Soracom-Token": auth.json()["token"]}
        first = httpx.get(f"{base}/subscribers", params={"limit": 10}, headers=headers)
        assert first.status_code == 200 and len(first.json()) == 10
        next_key = first.headers["x-soracom-next-key"]
        second = httpx.get(f"{base}/subscribers", params={"limit": 10, "last_evaluated_key": next_key},
                           headers=headers)
        assert second.json()[0]["imsi"] > first.json()[-1]["imsi"]
        assert httpx.get(f"{base}/subscribers").status_code == 401
        mapping = httpx.post(f"{base}/port_mappings", headers=headers, json={
            "destination": {"imsi": ONLINE_SIM, "port": 22}, "duration": 600,
            "source": {"ipRanges": ["203.0.113.0/24"]}}).json()
        endpoint = f"{mapping['ipAddress']}/{mapping['port']}"
        assert httpx.delete(f"{base}/port_mappings/{endpoint}", headers=headers).status_code == 204
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert "DELETE /v1/port_mappings/[redacted]/[redacted]" in output and endpoint not in output
