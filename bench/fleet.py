"""A fleet of 100,000 SIMs: the snapshot's refresh against SORACOM's paging floor, the bot's memory across it, the
Home tab and `/sim list` with selectors answered from the snapshot; on SQLite or PostgreSQL.

SORACOM has no count call: a refresh reads the fleet 100 SIMs a call, each call after the previous one's cursor,
so no client can be faster than pages × the latency of one call (or than the rate limit, where one is applied:
--rate-limit calls per --rate-window seconds on listSubscribers). SORACOM is the emulator in a process of its own
(bench/fake_soracom.py, over loopback HTTP: its work is not the bot's). Measured in the same run, for the machine's
load: a bare client in a process of its own reading the same pages (aiohttp, each page's JSON parsed, nothing else).

The refresh is driven through the service (`fleet.refresh`, what the background refresher and the Home's Refresh
button call), over the client and credentials a deployment uses; the Home and `/sim list` as Slack drives them: a
signed `app_home_opened` event until views.publish, a signed `/sim list …` command until its reply reaches the
response_url. The bot's CPU is this process's (time.process_time: every thread, the database's included) during a
refresh, over its pages. Memory is the peak resident set of this process (the bot and the Slack stand-in) during
the refreshes, over the resident set before: the kernel's VmHWM, reset before the refresh through
/proc/self/clear_refs (or, where that is refused, getrusage's ru_maxrss, which can only overstate).

    python bench/fleet.py [--sims 100000] [--latency 0.05] [--db sqlite|postgresql] [--database-url URL]
                          [--repeat 5] [--opens 20] [--lists 9] [--refreshes 2] [--rate-limit N --rate-window S]
                          [--profile FILE]

Each run is a process of its own (a fresh SORACOM, database and heap); --repeat prints every run and the medians.
On PostgreSQL the database (--database-url, else TEST_DATABASE_URL) is emptied first: give it a test database.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
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

from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402
from sqlalchemy import MetaData  # noqa: E402

from bench.fake_soracom import FakeSoracom  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.emulator import DEMO_AUTH_KEY, DEMO_AUTH_KEY_ID  # noqa: E402
from bot.local import LOCAL_BOT_TOKEN, LocalBot  # noqa: E402
from bot.services import fleet  # noqa: E402
from bot.soracom.client import NEXT_KEY_HEADER, RATE_LIMIT_HEADER  # noqa: E402
from bot.store import Database  # noqa: E402

USER, CHANNEL = "U_OP", "C_BENCH"
SITES = 100  # tag site=site-00 … site-99: 1,000 SIMs each at 100,000
BARE_VIEW = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]}
BOUNDS = {"refresh_ratio": 1.2, "rss_growth_mib": 150.0, "home_ms": 100.0, "list_tag_ms": 300.0}


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


async def bare_paging(url: str) -> dict[str, float]:
    """The least any client spends paging the fleet: aiohttp, each call after the previous one's cursor, the page's
    JSON parsed and counted, nothing else (in a process of its own); a 429 waits out the window it names."""
    import aiohttp

    async with aiohttp.ClientSession(base_url=url) as session:
        async with session.post("/v1/auth", json={"authKeyId": DEMO_AUTH_KEY_ID, "authKey": DEMO_AUTH_KEY}) as auth:
            body = await auth.json()
        headers = {"X-Soracom-API-Key": body["apiKey"], "X-Soracom-Token": body["token"]}
        sims = pages = 0
        key: str | None = None
        started, cpu = time.perf_counter(), time.process_time()
        while True:
            params = {"limit": "100", **({"last_evaluated_key": key} if key else {})}
            async with session.get("/v1/subscribers", params=params, headers=headers) as response:
                if response.status == 429:  # --rate-limit: the window's end, then the same page again
                    await asyncio.sleep(float(response.headers.get(RATE_LIMIT_HEADER, "1")))
                    continue
                response.raise_for_status()
                sims += len(json.loads(await response.read()))
                pages += 1
                next_key = response.headers.get(NEXT_KEY_HEADER)
            if not next_key or next_key == key:
                break
            key = next_key
        return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "sims": sims,
                "pages": pages}


def run_bare(soracom: FakeSoracom) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--bare", soracom.url], capture_output=True, text=True,
                          check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


async def one_run(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    soracom = FakeSoracom()
    try:
        return await _measured(args, database_url, soracom)
    finally:
        soracom.stop()


async def _measured(args: argparse.Namespace, database_url: str, soracom: FakeSoracom) -> dict[str, Any]:
    made = soracom.fleet(total=args.sims, sites=SITES, group_every=10)
    total, group_name = made["total"], made["group"]["name"]
    site_count, active, in_group = made["by_site"]["site-07"], made["by_status"].get("active", 0), made["group"]["sims"]
    soracom.latency(args.latency)
    if args.rate_limit:
        soracom.rate_limit("/v1/subscribers", args.rate_limit, args.rate_window, method="GET")
    pages = math.ceil(total / 100)
    floor = pages * args.latency
    if args.rate_limit:  # a fixed window: rate_limit calls, then the next window
        floor = max(floor, (pages - 1) // args.rate_limit * args.rate_window)

    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{tmp}/bot.db"
        if url.startswith("postgres"):
            empty_postgres(url)
        settings = Settings(_env_file=None, DATABASE_URL=url, BOT_DATA_DIR=tmp,  # type: ignore[call-arg]
                            BOT_ADMINS=USER, SORACOM_ENDPOINT=soracom.url, SORACOM_AUTH_KEY_ID=DEMO_AUTH_KEY_ID,
                            SORACOM_AUTH_KEY=DEMO_AUTH_KEY)
        async with LocalBot(settings) as local:
            assert local.rt is not None and local.sender is not None
            rt = local.rt
            await local.sender.command("/sim", "help", user_id=USER, channel_id=CHANNEL)  # warm up
            await local.settle()
            await rt.soracom.auth()  # authentication is in no figure

            # The least any client can take on this SORACOM now: the same pages read one after the other by a
            # bare client in a process of its own (the machine's load shows here as well).
            bare = run_bare(soracom)
            assert bare["sims"] == total, (bare, total)

            gc.collect()
            rss_before = rss_now()
            reset = reset_peak()
            refreshes = []
            profiler = cProfile.Profile() if args.profile else None
            for number in range(args.refreshes):  # the first fills an empty snapshot, the next replace one
                mark = soracom.calls_made()
                if profiler is not None and number == args.refreshes - 1:
                    profiler.enable()
                start, cpu = time.perf_counter(), time.process_time()
                assert await fleet.refresh(rt.db, rt.soracom, owner="bench", clock=rt.clock,
                                           zone=rt.settings.timezone)
                seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
                if profiler is not None:
                    profiler.disable()
                calls = soracom.calls_since(mark)
                refreshes.append({"seconds": seconds, "cpu": cpu,
                                  "pages": sum(1 for path, _ in calls if path == "/v1/subscribers"),
                                  "other_calls": sum(1 for path, _ in calls if path != "/v1/subscribers"),
                                  "429s": sum(1 for _, status in calls if status == 429)})
            peak, peak_how = peak_since_reset(reset)
            if profiler is not None:
                profiler.dump_stats(args.profile)
            snapshot = await fleet.read_snapshot(rt.db, rt.clock())
            assert snapshot.sim_count == total, (snapshot.sim_count, total)

            bare_client = AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=local.fake.api_url)
            bare_publish = []
            for _ in range(args.opens):
                start = time.perf_counter()
                await bare_client.views_publish(user_id="U_BARE", view=BARE_VIEW)
                bare_publish.append(time.perf_counter() - start)
            mark = soracom.calls_made()
            home = []
            for _ in range(args.opens):
                start = time.perf_counter()
                await local.sender.event({"type": "app_home_opened", "user": USER, "tab": "home"})
                await local.settle()
                home.append(time.perf_counter() - start)
            home_calls = len(soracom.calls_since(mark))
            shown = json.dumps(local.fake.homes[USER], ensure_ascii=False)
            assert f"{total:,}" in shown or str(total) in shown, "the Home does not show the fleet's size"

            mark = soracom.calls_made()
            lists = {}
            for name, text, expected in (("list", "list", total), ("tag", "list tag:site=site-07", site_count),
                                         ("status", "list status:active", active),
                                         ("group", f"list group:{group_name}", in_group)):
                samples, reply = await timed_list(local, text, args.lists)
                assert f"*{expected} SIM" in reply, (text, expected, reply[:200])
                lists[name] = {"text": f"/sim {text}", "median_ms": median_ms(samples), "max_ms": max(samples) * 1000,
                               "sims": expected}
            list_subscriber_calls = sum(1 for path, _ in soracom.calls_since(mark) if path == "/v1/subscribers")
            assert list_subscriber_calls == 0, "a listing paged SORACOM instead of the snapshot"

    return {
        "db": "postgresql" if url.startswith("postgres") else "sqlite", "sims": total, "latency": args.latency,
        "pages": pages, "floor_s": floor, "rate_limit": args.rate_limit, "rate_window": args.rate_window,
        "bare_paging_s": bare["seconds"], "bare_cpu_s": bare["cpu"], "refreshes": refreshes,
        "rss_before_mib": rss_before, "rss_peak_mib": peak, "rss_how": peak_how,
        "rss_growth_mib": peak - rss_before, "bare_publish_ms": median_ms(bare_publish), "home_ms": median_ms(home),
        "home_p95_ms": sorted(home)[min(len(home) - 1, round(len(home) * 0.95))] * 1000, "home_calls": home_calls,
        "opens": args.opens, "lists": lists, "load": os.getloadavg(),
    }


def report(run: dict[str, Any], index: int | None = None) -> None:
    head = f"run {index}: " if index is not None else ""
    limit = (f", rate limit {run['rate_limit']} calls / {run['rate_window']:g} s" if run["rate_limit"] else "")
    print(f"{head}{run['sims']} SIMs on {run['db']}, SORACOM at {run['latency'] * 1000:g} ms a call{limit}")
    print(f"  load average at the end of the run: {' '.join(f'{x:.2f}' for x in run['load'])}")
    print(f"  paging floor: {run['pages']} pages × {run['latency'] * 1000:g} ms = {run['floor_s']:.1f} s;  "
          f"a bare client paging the same SORACOM in this run: {run['bare_paging_s']:.1f} s "
          f"= {run['bare_paging_s'] / run['floor_s']:.3f}× the floor (its CPU "
          f"{run['bare_cpu_s'] / run['pages'] * 1000:.2f} ms a page)")
    for number, refresh in enumerate(run["refreshes"], 1):
        kind = "first (empty snapshot)" if number == 1 else "replacing a snapshot"
        print(f"  refresh {number}, {kind}: {refresh['seconds']:.1f} s = {refresh['seconds'] / run['floor_s']:.3f}× "
              f"the floor, {refresh['seconds'] / run['bare_paging_s']:.3f}× the bare client; the bot's CPU "
              f"{refresh['cpu'] / run['pages'] * 1000:.2f} ms a page  ({refresh['pages']} pages, "
              f"{refresh['other_calls']} other calls, {refresh['429s']} answered 429)")
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
    print(f"  {'refresh / the bare client paging the same SORACOM':<52} {bare:8.3f}")
    cpu = statistics.median(max(r["cpu"] for r in run["refreshes"]) / run["pages"] * 1000 for run in runs)
    print(f"  {'CPU of the bot a page during a refresh, ms':<52} {cpu:8.2f}")
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
    parser.add_argument("--profile", metavar="FILE", help="the last refresh of a run under cProfile, stats to FILE "
                        "(the event loop's thread only; the database threads are not in it)")
    parser.add_argument("--json", action="store_true", help="print one run as JSON (used by --repeat)")
    parser.add_argument("--bare", metavar="URL", help=argparse.SUPPRESS)  # the bare client's own process
    args = parser.parse_args()
    if args.bare:
        print(json.dumps(asyncio.run(bare_paging(args.bare))))
        return
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
        if args.profile:
            import pstats

            pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
        sys.stdout.flush()
    sys.exit(0 if verdict(runs) else 1)


if __name__ == "__main__":
    main()
