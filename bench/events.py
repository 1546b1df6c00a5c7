"""An alert storm: a daily-traffic rule crossing for many SIMs at once, delivered to POST /soracom/events at a fixed
rate, with another user typing commands meanwhile.

The bot runs as deployed: `python -m bot serve` (its front process answering Slack and SORACOM, its worker process
running the bot), sandbox (the embedded emulator), a SQLite file or --database-url, Slack's side a FakeSlack in
this process. The deliveries are sent by a process of their own, open-loop: each at its scheduled moment whether
the earlier ones were answered or not, as SORACOM would; a share of them is sent again with another `time` and
another alert suffix (a retry, or someone holding the token). Another user's `/sim show IMSI` is sent every
--ack-every seconds by a third process, quiet before the storm, then during it. --kill-worker-at 0.5 kills serve's
worker (SIGKILL) halfway through the storm.

Printed: the rate the sender sustained; deliveries answered and lost; rows recorded per SIM; cards per rule per
minute; chat.update per summary per 2 s; the other user's ack p50/p99 quiet and during the storm, and their ratio
(the bound: 2); the CPU per delivery of serve's two processes and of the sender; the load average.

    python bench/events.py [--events 100000] [--rate 500] [--repeat 0.1] [--ack-every 0.1] [--quiet 15]
                           [--database-url URL] [--kill-worker-at SHARE]
"""

from __future__ import annotations

import argparse
import importlib.util
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402

from bot.localslack import SlackSender  # noqa: E402
from bot.services.alerts import TOKEN_HEADER  # noqa: E402
from bot.store.tables import AlertEvent  # noqa: E402

CHANNEL, ADMIN, OTHER = "C_ALERTS", "U_ADMIN", "U_OTHER"
OTHERS_SIM = "440100000000002"  # by IMSI: one SORACOM read after the ack, whatever the fleet's size
SUMMARY_PACE = 2.0
SENDER_CONNECTIONS = 64
WARM_UP_S = 2.0  # the other user's first commands (the bot's first requests) are left out of the quiet figures


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


# The sender's process


async def send(url: str, bodies_file: Path, rate: float, connections: int = SENDER_CONNECTIONS) -> dict[str, Any]:
    """Each delivery handed at its moment to one of `connections` kept-alive HTTP/1.1 connections (a plain client
    over asyncio streams: cheap enough for one process to keep the rate)."""
    token = os.environ["BENCH_EVENTS_TOKEN"]
    bodies = bodies_file.read_bytes().splitlines()
    host, port = url.removeprefix("http://").split(":")
    head = (f"POST /soracom/events HTTP/1.1\r\nHost: {host}\r\n{TOKEN_HEADER}: {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: ").encode()
    statuses: Counter[int] = Counter()
    lateness: list[float] = []
    began: list[float] = []
    answers: list[float] = []
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while (item := await queue.get()) is not None:
            due, body = item
            sent = time.perf_counter()
            began.append(sent)
            lateness.append(sent - due)
            try:
                writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                statuses[status] += 1
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):  # no answer: lost
                statuses[0] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, int(port))
            answers.append(time.perf_counter() - sent)
        writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    await asyncio.sleep(0.5)  # connected
    start, start_wall = time.perf_counter(), time.time()
    for n, body in enumerate(bodies):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, body))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return {"statuses": dict(statuses), "start_wall": start_wall, "sending_s": max(began) - min(began),
            "cpu_s": time.process_time(),
            "answered_s": time.perf_counter() - start, "late_p99": percentile(lateness, 0.99),
            "answer_p50": statistics.median(answers), "answer_p99": percentile(answers, 0.99)}


# The other user's process


async def probe(url: str, forms_file: Path, seconds: float, every: float) -> list[tuple[float, float]]:
    """Another user's command every `every` seconds for `seconds`: (when it was sent, how long its ack took). The
    commands' forms were made by the bot's process: their response_url lead to its Slack stand-in."""
    acks: list[tuple[float, float]] = []
    forms = iter(forms_file.read_bytes().splitlines())
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        sender = SlackSender(os.environ["BENCH_SIGNING_SECRET"], http)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            at, started = time.time(), time.perf_counter()
            response = await sender.post(next(forms))
            acks.append((at, time.perf_counter() - started))
            assert response.status_code == 200, response.text
            await asyncio.sleep(every)
    return acks


# The bot's processes


async def child(role: str, *args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, __file__, "--role", role, *args,
                                                env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE)


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            found.append(int(stat.parent.name))
    return found


def worker_of(pid: int) -> int:
    """serve's worker: its child running the bot (multiprocessing's spawn), not the resource tracker."""
    for child_pid in children_of(pid):
        try:
            command = Path(f"/proc/{child_pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            return child_pid
    raise RuntimeError("serve's worker process not found")


def cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_ready(url: str, server: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(1200):
            if server.returncode is not None:
                raise RuntimeError(f"python -m bot serve exited with {server.returncode}")
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("python -m bot serve did not start")


async def main(events: int, rate: float, repeat: float, ack_every: float, quiet_s: float, url: str | None,
               kill_worker_at: float | None) -> None:
    from bot.net import free_port
    from bot.localslack.fake_api import FakeSlack
    from bot.store.tables import AlertSetting
    from bot.services.alerts import CHANNEL_SETTING
    from bot.store import Database

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    sims = [f"44020{n:010d}" for n in range(events)]
    token, secret = "bench-events-token", "bench-signing-secret"
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        database_url = url or f"sqlite:///{tmp}/bot.db"
        port = free_port()
        bot_url = f"http://127.0.0.1:{port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith(("SORACOM_", "SLACK_", "BOT_"))}
        env |= {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": secret, "SLACK_API_URL": fake.api_url,
                "DATABASE_URL": database_url, "BOT_DATA_DIR": tmp, "HOST": "127.0.0.1", "PORT": str(port),
                "BOT_ADMINS": ADMIN, "BOT_EVENTS_TOKEN": token, "BOT_PUBLIC_URL": "https://bot.example.test",
                "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                               *filter(None, [os.environ.get("PYTHONPATH")])])}
        if url:  # a database of tests or earlier runs: its alerts emptied first
            from sqlalchemy import delete

            from bot.store.tables import AlertMute, AlertStorm

            emptied = Database(url)
            emptied.create_schema()
            with emptied.session() as session:
                for table in (AlertEvent, AlertStorm, AlertMute, AlertSetting):
                    session.exec(delete(table))  # type: ignore[call-overload]
                session.commit()
            emptied.dispose()
        log_file = open(Path(tmp) / "serve.log", "wb")
        server = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "serve", env=env,
                                                      cwd=Path(__file__).resolve().parents[1],
                                                      stdout=log_file, stderr=log_file)
        try:
            await wait_ready(bot_url, server)
            db = Database(database_url)
            async with httpx.AsyncClient(base_url=bot_url, timeout=60) as http:
                admin = SlackSender(secret, http, fake=fake)
                await admin.command("/alerts", f"channel <#{CHANNEL}>", user_id=ADMIN, channel_id=CHANNEL)
                for _ in range(600):
                    with db.session() as session:
                        if session.get(AlertSetting, CHANNEL_SETTING) is not None:
                            break
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError("the alert channel was not set")
                deliveries = [{"alert": "daily-traffic", "rule": "daily-traffic", "imsi": imsi, "limitMiB": 100}
                              for imsi in sims]
                deliveries += [{**deliveries[i], "alert": "daily-traffic@again", "time": i}
                               for i in range(0, events, max(1, round(1 / repeat)))] if repeat else []
                bodies = Path(tmp) / "bodies.jsonl"
                bodies.write_text("".join(json.dumps(body) + "\n" for body in deliveries))
                storm_s = len(deliveries) / rate
                children_env = {"BENCH_EVENTS_TOKEN": token, "BENCH_SIGNING_SECRET": secret}
                forms = Path(tmp) / "forms.txt"
                forms.write_text("".join(urlencode(admin.command_form(
                    "/sim", f"show {OTHERS_SIM}", user_id=OTHER, channel_id="C_OTHER")) + "\n"
                    for _ in range(int((quiet_s + storm_s + 60) / ack_every))))
                assert server.pid is not None
                front, worker = server.pid, worker_of(server.pid)
                prober = await child("probe", bot_url, str(forms), str(quiet_s + storm_s + 1), str(ack_every),
                                     env=children_env)
                await asyncio.sleep(quiet_s)
                cpu = {"front": cpu_of(front), "worker": cpu_of(worker)}
                loads = [os.getloadavg()[0]]
                sender = await child("send", bot_url, str(bodies), str(rate), env=children_env)
                killed: list[str] = []
                if kill_worker_at is not None:
                    await asyncio.sleep(storm_s * kill_worker_at)
                    storm_cpu_worker = cpu_of(worker) - cpu["worker"]
                    os.kill(worker, signal.SIGKILL)
                    killed.append(f"worker {worker} killed (SIGKILL) {storm_s * kill_worker_at:.0f} s into the storm")
                sent = json.loads((await sender.communicate())[0])
                loads.append(os.getloadavg()[0])
                storm_cpu = {"front": cpu_of(front) - cpu["front"]}
                if kill_worker_at is None:
                    storm_cpu["worker"] = cpu_of(worker) - cpu["worker"]
                else:
                    replacement = worker_of(front)
                    killed.append(f"its replacement {replacement}")
                    storm_cpu["worker (both)"] = storm_cpu_worker + cpu_of(replacement)
                acks = json.loads((await prober.communicate())[0])
                # The summary's last edits: until Slack's side is quiet for a few seconds.
                seen, quiet_since = -1, time.monotonic()
                while time.monotonic() - quiet_since < 5:
                    if len(fake.calls) != seen:
                        seen, quiet_since = len(fake.calls), time.monotonic()
                    await asyncio.sleep(0.5)
            with db.session() as session:
                rows = session.exec(select(AlertEvent.imsi, func.count()).group_by(AlertEvent.imsi)).all()
                per_sim = Counter({imsi: count for imsi, count in rows})
            db.dispose()
        finally:
            if server.returncode is None:
                server.terminate()
                await server.wait()
            log_file.close()
            errors = [line for line in (Path(tmp) / "serve.log").read_text(errors="replace").splitlines()
                      if " ERROR " in line or "Traceback" in line]
        start_epoch = sent["start_wall"]
        cards: defaultdict[int, int] = defaultdict(int)
        updates: defaultdict[str, list[float]] = defaultdict(list)
        for call in fake.calls:
            blocks = json.dumps(call.args.get("blocks") or "")
            if call.method == "chat.postMessage" and call.args.get("channel") == CHANNEL and (
                    "alert_buttons" in blocks or "storm_buttons" in blocks):
                cards[int((call.time - start_epoch) // 60)] += 1  # the stand-in stamps calls with time.time()
            if call.method == "chat.update" and call.args.get("channel") == CHANNEL:
                updates[str(call.args.get("ts"))].append(call.time)

    storm_end = start_epoch + sent["answered_s"]
    quiet = [took for at, took in acks if start_epoch - quiet_s + WARM_UP_S <= at < start_epoch]
    storm = [took for at, took in acks if start_epoch <= at < storm_end]
    gaps = [b - a for times in updates.values() for a, b in zip(times, times[1:])]
    per_pace = max((sum(1 for later in times if at <= later < at + SUMMARY_PACE) for times in updates.values()
                    for at in times), default=0)
    statuses = Counter({int(status): count for status, count in sent["statuses"].items()})
    unanswered = sum(count for status, count in statuses.items() if not 200 <= status < 300)
    lost = unanswered + (events - len(per_sim))
    print(f"{len(deliveries)} deliveries ({events} SIMs, {len(deliveries) - events} sent again with another time and "
          f"suffix) at {rate:.0f}/s planned, to `python -m bot serve` (front and worker processes), "
          f"{'PostgreSQL' if url else 'SQLite'}, uvicorn parsing with "
          f"{'httptools' if importlib.util.find_spec('httptools') else 'h11'}")
    for line in killed:
        print(f"  {line}")
    print(f"  sender (own process): sustained {len(deliveries) / sent['sending_s']:.0f}/s "
          f"({len(deliveries)} sent in {sent['sending_s']:.1f} s, p99 {sent['late_p99'] * 1000:.0f} ms behind "
          f"schedule); all answered {sent['answered_s']:.1f} s after the first; answer p50 "
          f"{sent['answer_p50'] * 1000:.1f} ms p99 {sent['answer_p99'] * 1000:.1f} ms; its CPU "
          f"{sent.get('cpu_s', float('nan')) / len(deliveries) * 1000:.2f} ms a delivery")
    print(f"  answers: {dict(sorted(statuses.items()))}   lost: {lost}")
    print(f"  rows per SIM: {dict(Counter(per_sim.values()))} (max {max(per_sim.values(), default=0)})   "
          f"SIMs without a row: {events - len(per_sim)}")
    print(f"  cards per minute of the storm (one rule): {dict(sorted(cards.items()))}   "
          f"max {max(cards.values(), default=0)} (bound 11)")
    print(f"  summary edits: {sum(len(t) for t in updates.values())} on {len(updates)} summaries; "
          f"max {per_pace} per {SUMMARY_PACE:.0f} s (bound 1); shortest gap {min(gaps, default=float('nan')):.2f} s")
    quiet99, storm99 = percentile(quiet, 0.99), percentile(storm, 0.99)
    print(f"  other user's ack, quiet: p50 {statistics.median(quiet) * 1000:.1f} ms  p99 {quiet99 * 1000:.1f} ms "
          f"({len(quiet)} acks)")
    print(f"  other user's ack, storm: p50 {statistics.median(storm) * 1000:.1f} ms  p99 {storm99 * 1000:.1f} ms "
          f"({len(storm)} acks)   ratio p99 storm/quiet: {storm99 / quiet99:.2f} (bound 2)")
    print("  bot CPU during the storm: " + ", ".join(
        f"{name} {seconds:.1f} s ({seconds / len(deliveries) * 1000:.2f} ms a delivery)"
        for name, seconds in storm_cpu.items()))
    print(f"  load average (1 min) at the storm's start and end: {loads[0]:.2f}, {loads[1]:.2f}; serve's log: "
          f"{len(errors)} ERROR lines" + (f", first: {errors[0][:200]}" if errors else ""))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=500.0, help="deliveries a second")
    parser.add_argument("--repeat", type=float, default=0.1, help="share of SIMs delivered a second time")
    parser.add_argument("--ack-every", type=float, default=0.1, help="seconds between the other user's commands")
    parser.add_argument("--quiet", type=float, default=15.0, help="seconds of the other user's commands before")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--kill-worker-at", type=float, help="share of the storm after which serve's worker is "
                        "killed (SIGKILL): deliveries wait for the next one")
    parser.add_argument("--role", choices=["send", "probe"], help=argparse.SUPPRESS)
    parser.add_argument("role_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "send":
        url, file, rate = args.role_args
        print(json.dumps(asyncio.run(send(url, Path(file), float(rate)))))
    elif args.role == "probe":
        url, file, seconds, every = args.role_args
        print(json.dumps(asyncio.run(probe(url, Path(file), float(seconds), float(every)))))
    else:
        asyncio.run(main(args.events, args.rate, args.repeat, args.ack_every, args.quiet, args.database_url,
                         args.kill_worker_at))
