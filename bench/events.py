"""An alert storm: a daily-traffic rule crossing for many SIMs at once, delivered to POST /soracom/events at a fixed
rate, with another user typing commands meanwhile.

The bot runs in this process (LocalBot: the embedded emulator, the Slack stand-in, a SQLite file). Deliveries are
sent open-loop, each at its scheduled moment whether the earlier ones were answered or not, as SORACOM would; a
share of them is sent again with another `time` and another alert suffix (a retry, or someone holding the token).
Another user's `/sim show` is sent every --ack-every seconds, before the storm (quiet) and during it.

Printed: deliveries sent, answered and lost; rows recorded per SIM; cards per rule per minute; the summaries'
chat.update pace; the other user's ack p50/p99 quiet and during the storm, and their ratio.

    python bench/events.py [--events 100000] [--rate 500] [--repeat 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.emulator import EmulatorState  # noqa: E402
from bot.local import LocalBot  # noqa: E402
from bot.services.alerts import TOKEN_HEADER  # noqa: E402
from bot.store.tables import AlertEvent  # noqa: E402

CHANNEL, ADMIN, OTHER = "C_ALERTS", "U_ADMIN", "U_OTHER"


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


async def timed_acks(local: LocalBot, seconds: float, every: float) -> list[float]:
    """Another user's command, every `every` seconds for `seconds`: how long each took to be acked."""
    assert local.sender is not None
    acks: list[float] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        started = time.perf_counter()
        response = await local.sender.command("/sim", "show sensor-02", user_id=OTHER, channel_id="C_OTHER")
        acks.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        await asyncio.sleep(every)
    return acks


async def main(events: int, rate: float, repeat: float, ack_every: float) -> None:
    state = EmulatorState()
    sims = [sub["imsi"] for sub in state.add_subscribers(events, status="active", speedClass="s1.standard")]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, DATABASE_URL=f"sqlite:///{tmp}/bot.db", BOT_DATA_DIR=tmp,  # type: ignore[call-arg]
                            BOT_ADMINS=ADMIN, BOT_PUBLIC_URL="https://bot.example.test")
        async with LocalBot(settings, emulator=state) as local:
            assert local.sender is not None and local.http is not None and local.rt is not None
            await local.sender.command("/alerts", f"channel <#{CHANNEL}>", user_id=ADMIN, channel_id=CHANNEL)
            await local.settle()
            token = local.rt.settings.BOT_EVENTS_TOKEN or ""
            quiet = await timed_acks(local, 5.0, ack_every)

            deliveries = [{"alert": "daily-traffic", "rule": "daily-traffic", "imsi": imsi, "limitMiB": 100}
                          for imsi in sims]
            deliveries += [{**deliveries[i], "alert": "daily-traffic@again", "time": i}
                           for i in range(0, events, max(1, round(1 / repeat)))] if repeat else []
            statuses: Counter[int] = Counter()
            answered_at: list[float] = []

            async def deliver(body: dict[str, object]) -> None:
                try:
                    response = await local.http.post("/soracom/events", headers={TOKEN_HEADER: token},  # type: ignore[union-attr]
                                                     content=json.dumps(body).encode())
                    statuses[response.status_code] += 1
                except Exception:  # noqa: BLE001 - a delivery that got no answer is counted as lost
                    statuses[0] += 1
                answered_at.append(time.perf_counter())

            loop = asyncio.get_running_loop()
            started, start_wall, start_epoch = loop.time(), time.perf_counter(), time.time()
            acks_task = asyncio.ensure_future(timed_acks(local, len(deliveries) / rate, ack_every))
            in_flight = []
            for n, body in enumerate(deliveries):
                delay = started + n / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                in_flight.append(asyncio.ensure_future(deliver(body)))
            sent_s = time.perf_counter() - start_wall
            await asyncio.gather(*in_flight)
            storm_acks = await acks_task
            await local.settle(timeout=600)
            done_s = time.perf_counter() - start_wall

            with local.rt.db.session() as session:
                rows = session.exec(select(AlertEvent.imsi, func.count()).group_by(AlertEvent.imsi)).all()
                per_sim = Counter({imsi: count for imsi, count in rows})
            cards: defaultdict[int, int] = defaultdict(int)
            updates: defaultdict[str, list[float]] = defaultdict(list)
            for call in local.fake.calls:
                blocks = json.dumps(call.args.get("blocks") or "")
                if call.method == "chat.postMessage" and call.args.get("channel") == CHANNEL and (
                        "alert_buttons" in blocks or "storm_buttons" in blocks):
                    cards[int((call.time - start_epoch) // 60)] += 1  # the stand-in stamps calls with time.time()
                if call.method == "chat.update" and call.args.get("channel") == CHANNEL:
                    updates[str(call.args.get("ts"))].append(call.time)

    gaps = [b - a for times in updates.values() for a, b in zip(times, times[1:])]
    lost = statuses[0] + sum(count for status, count in statuses.items() if status >= 500)
    print(f"{len(deliveries)} deliveries ({events} SIMs, {len(deliveries) - events} sent again with another time and "
          f"suffix) at {rate:.0f}/s: sent in {sent_s:.1f} s, all answered and handled in {done_s:.1f} s")
    print(f"  answers: {dict(sorted(statuses.items()))}   lost: {lost}")
    print(f"  rows per SIM: {dict(Counter(per_sim.values()))}   SIMs without a row: {events - len(per_sim)}")
    print(f"  cards per minute of the storm (one rule): {dict(sorted(cards.items()))}   "
          f"max {max(cards.values(), default=0)}")
    print(f"  summary edits: {sum(len(t) for t in updates.values())} on {len(updates)} summaries; "
          f"shortest gap {min(gaps, default=float('nan')):.2f} s")
    quiet99, storm99 = percentile(quiet, 0.99), percentile(storm_acks, 0.99)
    print(f"  other user's ack, quiet: p50 {statistics.median(quiet) * 1000:.1f} ms  p99 {quiet99 * 1000:.1f} ms "
          f"({len(quiet)} acks)")
    print(f"  other user's ack, storm: p50 {statistics.median(storm_acks) * 1000:.1f} ms  p99 {storm99 * 1000:.1f} ms "
          f"({len(storm_acks)} acks)   ratio p99 storm/quiet: {storm99 / quiet99:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=500.0, help="deliveries a second")
    parser.add_argument("--repeat", type=float, default=0.1, help="share of SIMs delivered a second time")
    parser.add_argument("--ack-every", type=float, default=0.1, help="seconds between the other user's commands")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.rate, args.repeat, args.ack_every))
