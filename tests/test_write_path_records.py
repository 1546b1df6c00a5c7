"""Every SORACOM write leaves exactly one audit row, whatever the database does meanwhile: a full disk at commit, an
unreadable line in the outbox, a database stopped and started. Real `serve` processes, the emulator as SORACOM."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.localslack import FakeSlack
from bot.store import Database, outbox
from bot.store.tables import AuditEvent
from tests.clock import Clock
from tests.harness import Harness
from tests.own_postgres import OwnPostgres
from tests.processes import Bot, Emulator, output_of, wait_for

OPERATOR = "U_OP"
PENDING_TEXT = "refused its audit record"
BUSY = "The bot is restarting; nothing was done"


def tag_rows(db: Database) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.exec(select(AuditEvent).where(col(AuditEvent.action) == "sim.tag")).all())


async def test_a_full_disk_at_commit_keeps_every_record_tells_the_user_and_writes_it_once_after(
        tmp_path: Path, database_url: str, emulator: Emulator, fake: FakeSlack) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("a file-size limit fills the bot's own files, SQLite's; PostgreSQL's disk is its server's "
                    "(test_a_stopped_postgresql_... covers a PostgreSQL that refuses)")
    db = Database(database_url)
    db.create_schema()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    imsis = emulator.control("POST", "/subscribers", {"count": 8, "status": "active"})
    data = str(tmp_path / "data")
    # SQLite's shared-memory file needs 32 KB; past 64 KB its write-ahead log can take no more frames, and the
    # database file (larger already) no checkpoint: the database soon refuses every commit, as on a full disk.
    full = Bot(tmp_path, database_url=database_url, emulator=emulator, fake=fake, name="full",
               file_size_limit=64 * 1024, data_dir=data)
    harness = Harness(full, Clock())  # type: ignore[arg-type]
    for imsi in imsis:
        await harness.command(f"/sim tag {imsi} disk=full", user=OPERATOR)
        await full.settle(quiet=0.3)
    await full.settle(quiet=1.0)

    tagged = [imsi for imsi in imsis if emulator.subscriber(imsi)["tags"].get("disk") == "full"]
    refused = [imsi for imsi in imsis if imsi not in tagged]
    assert refused, "the database never refused: the limit did not bite"
    texts = harness.texts()
    for imsi in refused:  # its intent could not be written, so the write was not made, and the user heard so
        assert any(f"record `/sim tag {imsi} disk=full` before doing it, so nothing was done" in text
                   for text in texts), imsi
    box = Path(data) / "outbox.jsonl"
    kept = [json.loads(line)["row"] for line in box.read_text().splitlines()] if box.exists() else []
    pending = [row["target"] for row in kept if row["action"] == "sim.tag" and row["result"] == "ok"]
    # A change made whose outcome the database then refused: kept, and its user told the record is pending.
    assert len([text for text in texts if PENDING_TEXT in text]) == len(pending)
    assert "Traceback" not in "".join(texts)
    log = output_of(full.log)
    assert log.count("ERROR bot.store.outbox: database refused 1 audit row(s) of actions already taken") == len(kept)
    await full.stop()

    db = Database(database_url)
    recovered = Bot(tmp_path, database_url=database_url, emulator=emulator, fake=fake, name="recovered",
                    data_dir=data)  # the same data folder, the disk no longer full
    await wait_for(lambda: not box.exists(), 30, "the outbox written")
    rows = tag_rows(db)
    done = [row.target for row in rows if row.result == "ok"]
    assert sorted(done) == sorted(tagged)  # exactly one `ok` row per change made: 0 missing, 0 twice
    assert [row for row in rows if row.result == "started"] == []  # no intent left open
    await recovered.stop()
    db.dispose()


async def test_an_unreadable_last_line_is_quarantined_and_stops_nothing(
        tmp_path: Path, database_url: str, emulator: Emulator, fake: FakeSlack) -> None:
    """What a kill or a full disk leaves mid-write: the start, the sweeper and the flush go on."""
    data = tmp_path / "data"
    data.mkdir()
    good = {"table": "audit_event", "row": {"at": "2026-12-07T10:00:00+00:00", "slack_user_id": OPERATOR,
                                            "command": "/sim tag 440100000000001 a=b", "action": "sim.tag",
                                            "target": "440100000000001", "result": "ok", "record_key": "k1"}}
    box = data / "outbox.jsonl"
    box.write_text(json.dumps(good) + "\n" + json.dumps(good)[:57] + "\n")  # the second line cut mid-way
    box.chmod(0o600)
    bot = Bot(tmp_path, database_url=database_url, emulator=emulator, fake=fake, name="a", data_dir=str(data))
    db = Database(database_url)
    await wait_for(lambda: not box.exists(), 30, "the outbox written")
    assert [row.target for row in tag_rows(db)] == ["440100000000001"]
    quarantined = outbox.quarantine_path(box)
    assert quarantined.read_text() == json.dumps(good)[:57] + "\n"
    assert oct(quarantined.stat().st_mode & 0o777) == "0o600"

    # The bot works: a command is executed and recorded.
    imsi = emulator.control("POST", "/subscribers", {"count": 1, "status": "active"})[0]
    harness = Harness(bot, Clock())  # type: ignore[arg-type]
    await harness.command(f"/sim tag {imsi} after=quarantine", user=OPERATOR)
    await wait_for(lambda: imsi in [row.target for row in tag_rows(db)], 30, "the command's audit row")
    assert emulator.subscriber(imsi)["tags"]["after"] == "quarantine"
    log = await bot.stop()
    assert "ERROR bot.store.outbox: 1 unreadable line(s)" in log
    assert log.count("unreadable line(s)") == 1  # moved once: never tried again
    db.dispose()


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    cluster = OwnPostgres()  # skips where no PostgreSQL server can be started
    yield cluster
    cluster.remove()


async def test_a_postgresql_stopped_mid_write_keeps_the_record_tells_the_user_and_writes_it_once_when_back(
        tmp_path: Path, own_postgres: OwnPostgres, emulator: Emulator, fake: FakeSlack) -> None:
    imsi = emulator.control("POST", "/subscribers", {"count": 1, "status": "active"})[0]
    bot = Bot(tmp_path, database_url=own_postgres.url, emulator=emulator, fake=fake, name="a")
    harness = Harness(bot, Clock())  # type: ignore[arg-type]
    emulator.control("POST", "/faults", {"delay_next": [{"method": "PUT", "path_regex": r"/subscribers/.+/tags$",
                                                         "seconds": 2.0}]})
    await bot.sender.command("/sim", f"tag {imsi} db=stopped", user_id=OPERATOR, channel_id="C_OPS")
    await wait_for(lambda: emulator.control("GET", "/stats")["in_flight"] > 0, 30, "the write in flight")
    own_postgres.stop()  # the write reaches SORACOM; its audit row meets a database that is gone

    await wait_for(lambda: any(PENDING_TEXT in text for text in harness.texts()), 30, "the user told")
    assert emulator.subscriber(imsi)["tags"]["db"] == "stopped"
    assert "ERROR bot.store.outbox: database refused 1 audit row(s) of actions already taken" in output_of(bot.log)

    own_postgres.start()
    db = Database(own_postgres.url)
    await wait_for(lambda: bool(tag_rows(db)), 30, "the kept row written")
    await asyncio.sleep(3)  # several sweeper passes (every lease / 3 = 1 s): none writes it again
    assert [(row.target, row.result) for row in tag_rows(db)] == [(imsi, "ok")]
    assert not (tmp_path / "a" / "outbox.jsonl").exists()
    await bot.stop()
    db.dispose()


COMMANDS = 100


async def test_the_worker_killed_during_100_single_sim_commands_leaves_one_audit_row_per_write_and_tells_each_user(
        tmp_path: Path, database_url: str, emulator: Emulator, fake: FakeSlack) -> None:
    imsis = emulator.control("POST", "/subscribers", {"count": COMMANDS, "status": "active"})
    db = Database(database_url)
    bot = Bot(tmp_path, database_url=database_url, emulator=emulator, fake=fake, name="a")
    emulator.control("POST", "/faults", {"latency": 0.2})  # writes in flight when the kill comes
    sent = [asyncio.ensure_future(bot.sender.command("/sim", f"tag {imsi} crash=yes", user_id=OPERATOR,
                                                     channel_id="C_OPS")) for imsi in imsis]
    acked = [response.status_code for response in await asyncio.gather(*sent)]
    assert acked == [200] * COMMANDS
    await wait_for(lambda: len(emulator.requests("putSubscriberTags")) >= 30, 60, "30 writes made")
    bot.kill_worker()
    emulator.control("POST", "/faults", {"latency": 0})

    def settled() -> bool:  # no intent open: every write ended, or was read back by the next worker
        with db.session() as session:
            rows = session.exec(select(AuditEvent).where(col(AuditEvent.action) == "sim.tag")).all()
        return bool(rows) and all(row.result != "started" for row in rows)

    await wait_for(settled, 120, "every intent ended")
    await bot.settle(quiet=1.0, timeout=60)

    written = Counter(r["path"].split("/")[3] for r in emulator.requests("putSubscriberTags"))
    rows = tag_rows(db)
    recorded = Counter(row.target for row in rows)
    assert {imsi: recorded[imsi] for imsi in written} == {imsi: 1 for imsi in written}  # one row per SIM written
    assert max(written.values()) == 1  # no command run twice (a redelivered copy is a replay)
    assert set(recorded) <= set(written) | set(imsis)
    for row in rows:  # each row says what SORACOM shows
        shows = emulator.subscriber(row.target)["tags"].get("crash") == "yes"
        assert (row.result == "ok") == shows or row.result == "unknown", (row.target, row.result)
    read_back = [row for row in rows if row.error and "read back after a restart" in row.error]
    texts = harness_texts(fake)
    for row in read_back:  # the write the killed worker was making: its user heard how it ended
        assert any(row.target in text or "restarted while doing" in text for text in texts)
    told = sum("restarted while doing" in text for text in texts)
    assert told == len(read_back)
    executed = {imsi for imsi in imsis if emulator.subscriber(imsi)["tags"].get("crash") == "yes"}
    not_run = set(imsis) - executed
    # Acked, taken by the killed worker, not begun: its user is told it was not done.
    # Taken by the killed worker and not begun: "restarted while handling"; never taken, past the relay's bound
    # while it restarted: "restarting; nothing was done".
    lost = [imsi for imsi in not_run
            if not any(f"tag {imsi}" in text and ("restarted while handling" in text or BUSY in text)
                       for text in texts)]
    assert lost == []  # every acked command was executed once, or its user was told
    print(f"executed {len(executed)}, read back {len(read_back)}, not run and told {len(not_run)}")
    await bot.stop()
    db.dispose()


def harness_texts(fake: FakeSlack) -> list[str]:
    return [str(call.args.get("text", "")) for call in fake.calls]
