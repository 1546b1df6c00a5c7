"""The benches' SORACOM: the emulator in a process of its own, behind loopback HTTP, driven over `/_bench/*`.

A bench that measures the bot against SORACOM's pace must not pay for SORACOM's own work: in the bench's process
the emulator's request handling and the bot's would share one interpreter (a page of 100 SIMs costs the emulator
a few milliseconds of CPU). Here every `/v1` call goes to the emulator and takes the latency set (a read: in all,
this process's work included, as SORACOM's work is part of the latency its clients see; a write: waited, then
made); activate, which bench/bulk.py measures 8 at a time, is answered directly after the latency (the emulator's
validation and logging cost more than SORACOM's own pace would let through 8 at a time).

    python bench/fake_soracom.py PORT PARENT_PID        (started by FakeSoracom)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.local import free_port  # noqa: E402


def serve(port: int, parent: int) -> None:
    """The fake SORACOM's process, until its bench (process `parent`) is gone."""
    from aiohttp import web

    from bot.emulator import EmulatorState, create_app

    state = EmulatorState()
    emulator = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(state)), base_url="http://emulator")
    calls, answered = Counter[str](), Counter[str]()

    def loop_time() -> float:
        return asyncio.get_running_loop().time()

    knobs = {"latency": 0.0, "in_flight": 0, "peak": 0}

    async def activate(request: web.Request) -> web.Response:
        imsi = request.match_info["imsi"]
        calls[imsi] += 1
        if not request.headers.get("X-Soracom-Token"):
            return web.json_response({"code": "AUM0001", "message": "No token."}, status=401)
        knobs["in_flight"] += 1
        knobs["peak"] = max(knobs["peak"], knobs["in_flight"])
        try:
            await asyncio.sleep(knobs["latency"])
        finally:
            knobs["in_flight"] -= 1
        sim = state.demo.subscribers.get(imsi)
        if sim is None:
            return web.json_response({"code": "SEM0004", "message": "No such subscriber."}, status=404)
        sim["status"] = "active"
        answered[imsi] += 1
        return web.json_response(sim)

    async def by_emulator(request: web.Request) -> web.Response:
        """The emulator's answer, taking `latency` in all as the emulator's own reads do, this process's work
        included (SORACOM's work is part of the latency a client sees); a write is waited for, then made."""
        started = loop_time()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        if request.method != "GET":
            await asyncio.sleep(knobs["latency"])
        answer = await emulator.request(request.method, request.path_qs, content=await request.read(), headers=headers)
        if request.method == "GET":
            await asyncio.sleep(knobs["latency"] - (loop_time() - started))
        return web.Response(body=answer.content, status=answer.status_code, headers={
            k: v for k, v in answer.headers.items() if k.lower() not in ("content-length", "transfer-encoding")})

    async def fleet(request: web.Request) -> web.Response:
        """A fresh SORACOM (the seed, no latency, no limits, no calls counted) with more SIMs: `count` of them, or
        up to `total` in all; `status` and `tags` set on each, `sites` tags site=site-NN in turn, every
        `group_every`-th in the seed's first group. Answers their IMSIs (when `imsis`) and what the fleet holds."""
        body = await request.json()
        state.reset()
        calls.clear(), answered.clear()
        knobs.update(latency=0.0, peak=0)
        count = int(body["count"]) if "count" in body else int(body["total"]) - len(state.subscribers)
        added = state.add_subscribers(count, **({"status": body["status"]} if "status" in body else {}))
        for sim in added:
            sim["tags"].update(body.get("tags", {}))
        group = next(iter(state.groups.values()))
        sites, every = int(body.get("sites", 0)), int(body.get("group_every", 0))
        for number, sim in enumerate(state.subscribers.values()):
            if sites:
                sim["tags"]["site"] = f"site-{number % sites:02d}"
            if every and number % every == 0:
                sim["groupId"] = group["groupId"]
        everyone = list(state.subscribers.values())
        return web.json_response({
            "imsis": [sim["imsi"] for sim in added] if body.get("imsis") else None, "total": len(everyone),
            "by_status": Counter(sim["status"] for sim in everyone),
            "by_site": Counter(sim["tags"].get("site") for sim in everyone if sim["tags"].get("site")),
            "group": {"name": group["tags"]["name"], "id": group["groupId"],
                      "sims": sum(1 for sim in everyone if sim.get("groupId") == group["groupId"])},
        })

    async def faults(request: web.Request) -> web.Response:
        """`latency` (seconds a call takes), `rate_limit` ({path, limit, window, method}: a window on those calls)."""
        body = await request.json()
        if "latency" in body:
            knobs["latency"] = float(body["latency"])  # applied here, the emulator's own left at 0
        if body.get("rate_limit"):
            rule = body["rate_limit"]
            state.faults.rate_limit(rule["path"], int(rule["limit"]), float(rule["window"]), method=rule.get("method"))
        return web.json_response(knobs)

    async def requests(request: web.Request) -> web.Response:
        """The calls the emulator answered after the first `since`: [path, status] each, and how many in all."""
        since = int(request.query.get("since", "0"))
        return web.json_response({"total": len(state.requests),
                                  "calls": [[r.path, r.status] for r in state.requests[since:]]})

    async def activations(_: web.Request) -> web.Response:
        return web.json_response({"calls": calls, "answered": answered, "peak": knobs["peak"]})

    async def watch_parent(app: web.Application) -> None:
        async def watch() -> None:
            while os.getppid() == parent:
                await asyncio.sleep(1)
            os._exit(0)  # the bench that started it is gone (killed): so is its SORACOM

        app["watch"] = asyncio.get_running_loop().create_task(watch())

    app = web.Application()
    app.on_startup.append(watch_parent)
    app.router.add_post("/_bench/fleet", fleet)
    app.router.add_post("/_bench/faults", faults)
    app.router.add_get("/_bench/requests", requests)
    app.router.add_get("/_bench/activations", activations)
    app.router.add_post("/v1/subscribers/{imsi}/activate", activate)
    app.router.add_route("*", "/{tail:.*}", by_emulator)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


class FakeSoracom:
    """The fake SORACOM in its own process (`serve`), driven over HTTP."""

    def __init__(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen([sys.executable, __file__, str(port), str(os.getpid())], cwd=ROOT,
                                        stdout=self.log, stderr=self.log)
        self.http = httpx.Client(base_url=f"{self.url}/_bench", timeout=600)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if self.http.get("/activations").status_code == 200:
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the fake SORACOM did not start")
            time.sleep(0.1)

    def fleet(self, **layout: Any) -> dict[str, Any]:
        """A fresh SORACOM laid out as `serve`'s /_bench/fleet says."""
        made = self.http.post("/fleet", json=layout)
        made.raise_for_status()
        return dict(made.json())

    def ready_sims(self, count: int, tag: str) -> list[str]:
        """A fresh SORACOM (seed only, no latency, no calls counted) with `count` ready SIMs tagged fleet=tag."""
        return list(self.fleet(count=count, status="ready", tags={"fleet": tag}, imsis=True)["imsis"])

    def latency(self, seconds: float) -> None:
        self.http.post("/faults", json={"latency": seconds}).raise_for_status()

    def rate_limit(self, path: str, limit: int, window: float, method: str | None = None) -> None:
        self.http.post("/faults", json={"rate_limit": {"path": path, "limit": limit, "window": window,
                                                       "method": method}}).raise_for_status()

    def calls_made(self) -> int:
        return int(self.http.get("/requests", params={"since": 1 << 62}).json()["total"])

    def calls_since(self, mark: int) -> list[tuple[str, int]]:
        """(path, status) of each call the emulator answered after the first `mark`."""
        return [(path, status) for path, status in self.http.get("/requests", params={"since": mark}).json()["calls"]]

    def activations(self) -> tuple[Counter[str], Counter[str], int]:
        """Activate calls received per IMSI: all of them, and those answered 200; the most in flight at once."""
        counted = self.http.get("/activations").json()
        return Counter(counted["calls"]), Counter(counted["answered"]), int(counted["peak"])

    def stop(self) -> None:
        self.http.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
