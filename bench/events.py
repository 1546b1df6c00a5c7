"""An alert storm: a daily-traffic rule crossing for many SIMs at once, delivered to POST /soracom/events at a fixed
rate, with another user typing commands meanwhile.

The bot runs in this process (LocalBot: the embedded emulator, the Slack stand-in, a SQLite file, or
--database-url), served over HTTP on loopback. The deliveries are sent by a process of their own, open-loop: each at
its scheduled moment whether the earlier ones were answered or not, as SORACOM would; a share of them is sent again
with another `time` and another alert suffix (a retry, or someone holding the token). Another user's `/sim show IMSI`
is sent every --ack-every seconds by a third process, quiet before the storm, then during it.

Printed: the rate the sender sustained; deliveries answered and lost; rows recorded per SIM; cards per rule per
minute; chat.update per summary per 2 s; the other user's ack p50/p99 quiet and during the storm, and their ratio
(the bound: 2); the bot's CPU per delivery.

    python bench/events.py [--events 100000] [--rate 500] [--repeat 0.1] [--ack-every 0.1] [--quiet 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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

from bot.config import Settings  # noqa: E402
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


# The bot's process


async def child(role: str, *args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, __file__, "--role", role, *args,
                                                env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE)


async def main(events: int, rate: float, repeat: float, ack_every: float, quiet_s: float, url: str | None) -> None:
    from bot.emulator import EmulatorState
    from bot.local import LocalBot

    state = EmulatorState()
    sims = [sub["imsi"] for sub in state.add_subscribers(events, status="active", speedClass="s1.standard")]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, DATABASE_URL=url or f"sqlite:///{tmp}/bot.db",  # type: ignore[call-arg]
                            BOT_DATA_DIR=tmp, BOT_ADMINS=ADMIN, BOT_PUBLIC_URL="https://bot.example.test")
        async with LocalBot(settings, emulator=state) as local:
            assert local.sender is not None and local.rt is not None
            bot_url = await local._serve(local.web)  # on loopback, in this event loop: the bot's own HTTP server
            await local.sender.command("/alerts", f"channel <#{CHANNEL}>", user_id=ADMIN, channel_id=CHANNEL)
            await local.settle()

            deliveries = [{"alert": "daily-traffic", "rule": "daily-traffic", "imsi": imsi, "limitMiB": 100}
                          for imsi in sims]
            deliveries += [{**deliveries[i], "alert": "daily-traffic@again", "time": i}
                           for i in range(0, events, max(1, round(1 / repeat)))] if repeat else []
            bodies = Path(tmp) / "bodies.jsonl"
            bodies.write_text("".join(json.dumps(body) + "\n" for body in deliveries))
            storm_s = len(deliveries) / rate
            env = {"BENCH_EVENTS_TOKEN": local.rt.settings.BOT_EVENTS_TOKEN or "",
                   "BENCH_SIGNING_SECRET": local.signing_secret}
            forms = Path(tmp) / "forms.txt"
            forms.write_text("".join(urlencode(local.sender.command_form(
                "/sim", f"show {OTHERS_SIM}", user_id=OTHER, channel_id="C_OTHER")) + "\n"
                for _ in range(int((quiet_s + storm_s + 10) / ack_every))))
            prober = await child("probe", bot_url, str(forms), str(quiet_s + storm_s + 1), str(ack_every), env=env)
            await asyncio.sleep(quiet_s)
            cpu = time.process_time()
            sender = await child("send", bot_url, str(bodies), str(rate), env=env)
            sent = json.loads((await sender.communicate())[0])
            storm_cpu = time.process_time() - cpu
            acks = json.loads((await prober.communicate())[0])
            await local.settle(timeout=600)

            with local.rt.db.session() as session:
                rows = session.exec(select(AlertEvent.imsi, func.count()).group_by(AlertEvent.imsi)).all()
                per_sim = Counter({imsi: count for imsi, count in rows})
            start_epoch = sent["start_wall"]
            cards: defaultdict[int, int] = defaultdict(int)
            updates: defaultdict[str, list[float]] = defaultdict(list)
            for call in local.fake.calls:
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
          f"suffix) at {rate:.0f}/s planned")
    print(f"  sender (own process): sustained {len(deliveries) / sent['sending_s']:.0f}/s "
          f"({len(deliveries)} sent in {sent['sending_s']:.1f} s, p99 {sent['late_p99'] * 1000:.0f} ms behind "
          f"schedule); all answered {sent['answered_s']:.1f} s after the first; answer p50 "
          f"{sent['answer_p50'] * 1000:.1f} ms p99 {sent['answer_p99'] * 1000:.1f} ms; its CPU "
          f"{sent.get('cpu_s', float('nan')) / len(deliveries) * 1000:.2f} ms a delivery (when it falls behind, all "
          f"{SENDER_CONNECTIONS} connections are waiting for the bot's answers)")
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
    print(f"  bot CPU during the storm: {storm_cpu:.1f} s, {storm_cpu / len(deliveries) * 1000:.2f} ms a delivery")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=500.0, help="deliveries a second")
    parser.add_argument("--repeat", type=float, default=0.1, help="share of SIMs delivered a second time")
    parser.add_argument("--ack-every", type=float, default=0.1, help="seconds between the other user's commands")
    parser.add_argument("--quiet", type=float, default=15.0, help="seconds of the other user's commands before")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
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
        asyncio.run(main(args.events, args.rate, args.repeat, args.ack_every, args.quiet, args.database_url))
