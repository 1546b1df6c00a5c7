"""A PostgreSQL of the test's own, on a free port under its tmp folder, that the test may stop and start: the
shared one (TEST_DATABASE_URL) serves every other test and is never stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bot.local import free_port


def _as_postgres() -> list[str]:
    # initdb and postgres refuse to run as root; a container's tests often are root.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def available() -> str | None:
    """Why a cluster of our own cannot be made here, or None."""
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        return "PostgreSQL's initdb and pg_ctl are not installed"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser to run PostgreSQL as its own user"
    return None


class OwnPostgres:
    def __init__(self) -> None:
        # Not under pytest's tmp folder: that one is its user's alone, and PostgreSQL runs as its own.
        self.home = Path(tempfile.mkdtemp(prefix="bot-own-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres")
        self.port = free_port()
        self.url = f"postgresql://bot@127.0.0.1:{self.port}/bot"
        self._run("initdb", "-D", str(self.home / "data"), "-A", "trust", "-U", "bot", "--no-sync")
        self.start()
        subprocess.run(["psql", f"postgresql://bot@127.0.0.1:{self.port}/postgres", "-qc", "CREATE DATABASE bot"],
                       check=True, capture_output=True)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.home / "data"), "-l", str(self.home / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.home / "data"), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)

    def _run(self, *command: str) -> None:
        subprocess.run([*_as_postgres(), *command], check=True, capture_output=True, cwd=self.home)
