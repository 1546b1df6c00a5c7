"""The console keeps its own data (database and emulator state together) across restarts, apart from `serve`'s
database; `:reset` starts both afresh; `:code` answers at the code prompt; an unknown command is said plainly."""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.config import Settings
from bot.local import LocalBot
from bot.localslack.console import Console
from tests.harness import Harness

ROOT = Path(__file__).resolve().parents[1]


def console(tmp_path: Path, *lines: str, **env: str) -> str:
    """`python -m bot console --script` in tmp_path, as a person would run it twice from the same folder."""
    script = tmp_path / "script.txt"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "bot", "console", "--script", str(script)], cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), **env},
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def test_a_restarted_console_finds_the_same_sims_enrollment_and_audit_apart_from_serve(tmp_path: Path) -> None:
    serve_db = tmp_path / "serve.db"
    first = console(tmp_path, "/mfa enroll", "input :code", "/sim tag meter-03 site=kyoto",
                    DATABASE_URL=f"sqlite:///{serve_db}")
    assert "Code your app shows now: " in first and "site=kyoto" in first
    assert not serve_db.exists() and not (tmp_path / "data" / "bot.db").exists()  # serve's databases untouched
    assert {p.name for p in (tmp_path / "data" / "console").iterdir()} >= {"bot.db", "emulator.json"}

    second = console(tmp_path, ":code", "/mfa status", "/sim show meter-03", "/soracom audit 5")
    assert re.search(r"\(your authenticator shows \d{6}\)", second)  # the phone kept its key
    assert "active since" in second  # the enrollment
    show = second[second.index("> /sim show meter-03"):second.index("> /soracom audit")]
    assert "`site=kyoto`" in show  # the emulator's SIM as the first run left it
    assert "*sim.tag* `440100000000016`" in second[second.index("> /soracom audit"):]  # the first run's audit


def test_reset_starts_the_database_and_the_emulator_afresh_together(tmp_path: Path) -> None:
    output = console(tmp_path, "/mfa enroll", "input :code", "/sim tag meter-03 site=kyoto", ":reset",
                     "/sim show meter-03", "/mfa status", ":code")
    after = output[output.index("> /sim show meter-03"):]
    assert "site=kyoto" not in after
    assert "active since" not in after
    assert "(no authenticator here yet" in after


def test_a_folder_holding_one_without_the_other_starts_afresh(tmp_path: Path) -> None:
    console(tmp_path, "/sim tag meter-03 site=kyoto")
    (tmp_path / "data" / "console" / "emulator.json").unlink()  # the database alone would speak of a lost tag
    output = console(tmp_path, "/soracom audit 5", "/sim show meter-03")
    assert "started afresh" in output
    assert "site=kyoto" not in output


async def test_code_typed_at_the_code_prompt_shows_the_code_and_asks_again(settings: Settings, clock) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()

    def typed(prompt: str) -> str:  # a person: enroll, glance at the phone at the prompt, type what it shows
        if prompt.startswith("U_ADMIN"):
            return next(commands)
        shown = re.findall(r"your authenticator shows (\d{6})", out.getvalue())
        return shown[-1] if prompts.append(prompt) or len(prompts) > 1 else ":code"

    commands = iter(["/mfa enroll", "/mfa status", ":quit"])
    prompts: list[str] = []
    async with LocalBot(settings, clock=clock) as local:
        assert local.sender is not None and local.rt is not None
        session = Console(local.sender, local.fake, local.settle, user_id="U_ADMIN", out=out, input_func=typed,
                          now=clock)
        await session.run_interactive()
        status = await local.rt.mfa.status("U_ADMIN")
    printed = out.getvalue()
    assert len(prompts) == 2  # asked, then asked again after :code
    assert "your authenticator shows" in printed
    assert status.confirmed_at is not None, printed[-1500:]  # the code typed after :code confirmed it


async def test_an_unknown_command_is_answered_plainly(harness: Harness) -> None:
    response = await harness.command("/nosuch do things")
    assert response.status_code == 200
    replies = [c for c in harness.fake.calls if c.method in ("response_url", "chat.postEphemeral",
                                                               "command_response")]
    text = " ".join(str(c.args.get("text")) for c in replies)
    assert "`/nosuch` is no such command" in text and "/soracom help" in text
    assert "@app.command" not in harness.all_text()


def test_a_console_killed_after_a_change_finds_it_on_restart(tmp_path: Path) -> None:
    """SIGKILL: no exit, no final save. The emulator state was written when SORACOM answered the change."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    log = (tmp_path / "console.log").open("w+", encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "bot", "console"], cwd=tmp_path, env=env, text=True,
                               stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert process.stdin is not None
        process.stdin.write("/sim tag meter-03 site=kyoto\n")
        process.stdin.flush()
        deadline = time.monotonic() + 120
        while "site=kyoto" not in (tmp_path / "console.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "site=kyoto" in (tmp_path / "console.log").read_text()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        log.close()
    output = console(tmp_path, "/sim show meter-03", "/soracom audit 3")
    assert "`site=kyoto`" in output and "*sim.tag* `440100000000016`" in output
    assert "started afresh" not in output
