"""A fleet of 100,000 SIMs: the snapshot's refresh against SORACOM's paging floor, the bot's memory across it, the
Home tab and `/sim list` with selectors answered from the snapshot; on SQLite or PostgreSQL.

SORACOM has no count call: a refresh reads the fleet 100 SIMs a call, each call after the previous one's cursor,
so no client can be faster than pages × the latency of one call (or than the rate limit, where one is applied:
--rate-limit calls per --rate-window seconds on listSubscribers). Measured in the same run, for the machine's
load: a bare client reading the same pages from the same emulator, nothing done with them.

The refresh is driven through the service (`fleet.refresh`, what the background refresher and the Home's Refresh
button call); the Home and `/sim list` as Slack drives them: a signed `app_home_opened` event until views.publish,
a signed `/sim list …` command until its reply reaches the response_url. Memory is the peak resident set of this
process (the bot with its emulator) during the refreshes, over the resident set before: the kernel's VmHWM, reset
before the refresh through /proc/self/clear_refs (or, where that is refused, getrusage's ru_maxrss, which can only
overstate).

    python bench/fleet.py [--sims 100000] [--latency 0.05] [--db sqlite|postgresql] [--database-url URL]
                          [--repeat 5] [--opens 20] [--lists 9] [--refreshes 2] [--rate-limit N --rate-window S]

Each run is a process of its own (a fresh emulator, database and heap); --repeat prints every run and the medians.
On PostgreSQL the database (--database-url, else TEST_DATABASE_URL) is emptied first: give it a test database.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402
from sqlalchemy import MetaData  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.emulator import DEMO_AUTH_KEY, DEMO_AUTH_KEY_ID, EmulatorState, create_app  # noqa: E402
from bot.local import EMBEDDED_EMULATOR_ENDPOINT, LOCAL_BOT_TOKEN, LocalBot  # noqa: E402
from bot.services import fleet  # noqa: E402
from bot.soracom import AuthKeyCredentials, SoracomClient  # noqa: E402
from bot.store import Database  # noqa: E402

USER, CHANNEL = "U_OP", "C_BENCH"
SITES = 100  # tag site=site-00 … site-99: 1,000 SIMs each at 100,000
BARE_VIEW = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]}
BOUNDS = {"refresh_ratio": 1.2, "rss_growth_mib": 150.0, "home_ms": 100.0, "list_tag_ms": 300.0}


def build_fleet(state: EmulatorState, count: int) -> tuple[str, str]:
    """`count` SIMs, each tagged with one of SITES sites, every tenth in a group; (that group's name, its id)."""
    state.add_subscribers(count - len(state.subscribers))
    group = next(iter(state.groups.values()))
    for number, sub in enumerate(state.subscribers.values()):
        sub["tags"]["site"] = f"site-{number % SITES:02d}"
        if number % 10 == 0:
            sub["groupId"] = group["groupId"]
    return group["tags"]["name"], group["groupId"]


def rss_now() -> float:
    """MiB resident now (VmRSS)."""
    return _status_kib("VmRSS") / 1024


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> bool:
    """Resets VmHWM to the current resident set (Linux 4.0+); False where the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_since_reset(reset: bool) -> tuple[float, str]:
    if reset:
        return _status_kib("VmHWM") / 1024, "VmHWM after /proc/self/clear_refs"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "ru_maxrss (life of the process)"


def empty_postgres(url: str) -> None:
    db = Database(url)
    everything = MetaData()
    everything.reflect(db.engine)
    everything.drop_all(db.engine)
    db.dispose()


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def timed_list(local: LocalBot, text: str, times: int) -> tuple[list[float], str]:
    assert local.sender is not None
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        await local.sender.command("/sim", text, user_id=USER, channel_id=CHANNEL)
        await local.settle()
        samples.append(time.perf_counter() - start)
    return samples, local.fake.calls_to("response_url")[-1].args["text"]


async def one_run(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    state = EmulatorState()
    group_name, group_id = build_fleet(state, args.sims)
    subscribers = list(state.subscribers.values())
    total = len(subscribers)
    site_count = sum(1 for sub in subscribers if sub["tags"]["site"] == "site-07")
    active = sum(1 for sub in subscribers if sub["status"] == "active")
    in_group = sum(1 for sub in subscribers if sub.get("groupId") == group_id)
    del subscribers
    state.faults.latency = args.latency
    if args.rate_limit:
        state.faults.rate_limit("/v1/subscribers", args.rate_limit, args.rate_window, method="GET")
    pages = math.ceil(total / 100)
    floor = pages * args.latency
    if args.rate_limit:  # a fixed window: rate_limit calls, then the next window
        floor = max(floor, (pages - 1) // args.rate_limit * args.rate_window)

    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{tmp}/bot.db"
        if url.startswith("postgres"):
            empty_postgres(url)
        settings = Settings(_env_file=None, DATABASE_URL=url, BOT_DATA_DIR=tmp,  # type: ignore[call-arg]
                            BOT_ADMINS=USER)
        async with LocalBot(settings, emulator=state) as local:
            assert local.rt is not None and local.sender is not None
            rt = local.rt
            await local.sender.command("/sim", "help", user_id=USER, channel_id=CHANNEL)  # warm up, authenticate
            await local.settle()

            # The least any client can take on this emulator, in this process, now: the same pages read one after
            # the other by a bare client, nothing done with them (the machine's load shows here as well).
            async with SoracomClient(EMBEDDED_EMULATOR_ENDPOINT, AuthKeyCredentials(DEMO_AUTH_KEY_ID, DEMO_AUTH_KEY),
                                     transport=httpx.ASGITransport(app=create_app(state))) as bare_soracom:
                await bare_soracom.auth()
                start = time.perf_counter()
                bare_sims = sum([len(page.items) async for page in bare_soracom.subscriber_pages()])
                bare_paging = time.perf_counter() - start
            assert bare_sims == total

            gc.collect()
            rss_before = rss_now()
            reset = reset_peak()
            refreshes = []
            for _ in range(args.refreshes):  # the first fills an empty snapshot, the next replace one
                calls_before = len(state.requests)
                start = time.perf_counter()
                assert await fleet.refresh(rt.db, rt.soracom, owner="bench", clock=rt.clock,
                                           zone=rt.settings.timezone)
                seconds = time.perf_counter() - start
                calls = [r for r in state.requests[calls_before:]]
                refreshes.append({"seconds": seconds, "pages": sum(1 for r in calls if r.path == "/v1/subscribers"),
                                  "other_calls": sum(1 for r in calls if r.path != "/v1/subscribers"),
                                  "429s": sum(1 for r in calls if r.status == 429)})
            peak, peak_how = peak_since_reset(reset)
            snapshot = await fleet.read_snapshot(rt.db, rt.clock())
            assert snapshot.sim_count == total, (snapshot.sim_count, total)

            bare_client = AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=local.fake.api_url)
            bare = []
            for _ in range(args.opens):
                start = time.perf_counter()
                await bare_client.views_publish(user_id="U_BARE", view=BARE_VIEW)
                bare.append(time.perf_counter() - start)
            calls_before = len(state.requests)
            home = []
            for _ in range(args.opens):
                start = time.perf_counter()
                await local.sender.event({"type": "app_home_opened", "user": USER, "tab": "home"})
                await local.settle()
                home.append(time.perf_counter() - start)
            home_calls = len(state.requests) - calls_before
            shown = json.dumps(local.fake.homes[USER], ensure_ascii=False)
            assert f"{total:,}" in shown or str(total) in shown, "the Home does not show the fleet's size"

            calls_before = len(state.requests)
            lists = {}
            for name, text, expected in (("list", "list", total), ("tag", "list tag:site=site-07", site_count),
                                         ("status", "list status:active", active),
                                         ("group", f"list group:{group_name}", in_group)):
                samples, reply = await timed_list(local, text, args.lists)
                assert f"*{expected} SIM" in reply, (text, expected, reply[:200])
                lists[name] = {"text": f"/sim {text}", "median_ms": median_ms(samples), "max_ms": max(samples) * 1000,
                               "sims": expected}
            list_subscriber_calls = sum(1 for r in state.requests[calls_before:] if r.path == "/v1/subscribers")
            assert list_subscriber_calls == 0, "a listing paged SORACOM instead of the snapshot"

    return {
        "db": "postgresql" if url.startswith("postgres") else "sqlite", "sims": total, "latency": args.latency,
        "pages": pages, "floor_s": floor, "rate_limit": args.rate_limit, "rate_window": args.rate_window,
        "bare_paging_s": bare_paging, "refreshes": refreshes, "rss_before_mib": rss_before, "rss_peak_mib": peak,
        "rss_how": peak_how,
        "rss_growth_mib": peak - rss_before, "bare_publish_ms": median_ms(bare), "home_ms": median_ms(home),
        "home_p95_ms": sorted(home)[min(len(home) - 1, round(len(home) * 0.95))] * 1000, "home_calls": home_calls,
        "opens": args.opens, "lists": lists,
    }


def report(run: dict[str, Any], index: int | None = None) -> None:
    head = f"run {index}: " if index is not None else ""
    limit = (f", rate limit {run['rate_limit']} calls / {run['rate_window']:g} s" if run["rate_limit"] else "")
    print(f"{head}{run['sims']} SIMs on {run['db']}, SORACOM at {run['latency'] * 1000:g} ms a call{limit}")
    print(f"  paging floor: {run['pages']} pages × {run['latency'] * 1000:g} ms = {run['floor_s']:.1f} s;  "
          f"a bare client paging the same emulator in this run: {run['bare_paging_s']:.1f} s "
          f"= {run['bare_paging_s'] / run['floor_s']:.3f}× the floor")
    for number, refresh in enumerate(run["refreshes"], 1):
        kind = "first (empty snapshot)" if number == 1 else "replacing a snapshot"
        print(f"  refresh {number}, {kind}: {refresh['seconds']:.1f} s = {refresh['seconds'] / run['floor_s']:.3f}× "
              f"the floor, {refresh['seconds'] / run['bare_paging_s']:.3f}× the bare client  "
              f"({refresh['pages']} pages, {refresh['other_calls']} other calls, "
              f"{refresh['429s']} answered 429)")
    print(f"  memory: {run['rss_before_mib']:.0f} MiB before, peak {run['rss_peak_mib']:.0f} MiB during the refreshes "
          f"→ growth {run['rss_growth_mib']:.1f} MiB  [{run['rss_how']}]")
    print(f"  Home open (app_home_opened → views.publish), median of {run['opens']}: {run['home_ms']:.1f} ms "
          f"(p95 {run['home_p95_ms']:.1f} ms, {run['home_calls']} SORACOM calls); "
          f"a bare views.publish {run['bare_publish_ms']:.1f} ms")
    for entry in run["lists"].values():
        print(f"  {entry['text']:<32} until the reply, median {entry['median_ms']:6.1f} ms "
              f"(max {entry['max_ms']:6.1f} ms)  {entry['sims']} SIMs")


def verdict(runs: list[dict[str, Any]]) -> bool:
    ratio = statistics.median(max(r["seconds"] for r in run["refreshes"]) / run["floor_s"] for run in runs)
    figures = {
        "refresh_ratio": ratio,
        "rss_growth_mib": statistics.median(run["rss_growth_mib"] for run in runs),
        "home_ms": statistics.median(run["home_ms"] for run in runs),
        "list_tag_ms": statistics.median(run["lists"]["tag"]["median_ms"] for run in runs),
    }
    names = {"refresh_ratio": "refresh / paging floor (slower refresh of each run)",
             "rss_growth_mib": "RSS growth, MiB", "home_ms": "Home open median, ms",
             "list_tag_ms": "/sim list tag:… median, ms"}
    ok = True
    print(f"medians of {len(runs)} run(s):")
    for key, value in figures.items():
        passed = value <= BOUNDS[key]
        ok &= passed
        print(f"  {names[key]:<52} {value:8.3f}   bound ≤ {BOUNDS[key]:g}   {'ok' if passed else 'OVER'}")
    bare = statistics.median(max(r["seconds"] for r in run["refreshes"]) / run["bare_paging_s"] for run in runs)
    print(f"  {'refresh / the bare client paging the same emulator':<52} {bare:8.3f}")
    for name in ("list", "status", "group"):
        print(f"  {runs[0]['lists'][name]['text']:<52} "
              f"{statistics.median(run['lists'][name]['median_ms'] for run in runs):8.1f} ms")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sims", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds each SORACOM call takes")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: TEST_DATABASE_URL)")
    parser.add_argument("--repeat", type=int, default=1, help="runs, each in a process of its own")
    parser.add_argument("--opens", type=int, default=20, help="Home opens measured (at least 20)")
    parser.add_argument("--lists", type=int, default=9, help="times each /sim list is measured")
    parser.add_argument("--refreshes", type=int, default=2, help="refreshes in a row (the first fills the snapshot)")
    parser.add_argument("--rate-limit", type=int, default=0, help="listSubscribers calls per window (0: none)")
    parser.add_argument("--rate-window", type=float, default=60.0, help="seconds of the rate-limit window")
    parser.add_argument("--json", action="store_true", help="print one run as JSON (used by --repeat)")
    args = parser.parse_args()
    url = ""
    if args.db == "postgresql":
        url = args.database_url or os.environ.get("TEST_DATABASE_URL", "")
        if not url:
            parser.error("--db postgresql needs --database-url or TEST_DATABASE_URL")
    if args.json:
        print(json.dumps(asyncio.run(one_run(args, url))))
        return
    runs = []
    for index in range(1, args.repeat + 1):
        command = [sys.executable, __file__, *sys.argv[1:], "--repeat", "1", "--json"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stdout, done.stderr, file=sys.stderr)
            sys.exit(f"run {index} failed")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        report(runs[-1], index)
        sys.stdout.flush()
    sys.exit(0 if verdict(runs) else 1)


if __name__ == "__main__":
    main()
