"""A PostgreSQL of the test's own, in a temporary folder on a free port, that the test may stop and start again: a
database outage without touching the shared server (TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from bot.local import free_port

# Debian's newest installed server (the one .ci/run starts), unless TEST_PG_BIN names another.
_INSTALLED = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name)
                    if path.parent.name.isdigit() else 0)
PG_BIN = Path(os.environ.get("TEST_PG_BIN") or (_INSTALLED[-1] if _INSTALLED else "/usr/lib/postgresql/15/bin"))


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user."""
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser: cannot start a PostgreSQL of the test's own")
    return [runuser, "-u", "postgres", "--", *argv]


class OwnPostgres:
    def __init__(self) -> None:
        if not (PG_BIN / "initdb").is_file():
            pytest.skip(f"no PostgreSQL server binaries in {PG_BIN} (TEST_PG_BIN) to start one of the test's own")
        # Not under pytest's tmp_path: that is private to the test's user, and the server's user must reach it.
        self.folder = Path(tempfile.mkdtemp(prefix="own-postgres-"))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._run(PG_BIN / "initdb", "-D", str(self.folder / "data"), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")
        self.start()

    def start(self) -> None:
        self._run(PG_BIN / "pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-w",
                  "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        """As a crashed or restarting server: connections refused from now on."""
        self._run(PG_BIN / "pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        if self.running():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def running(self) -> bool:
        return (self.folder / "data" / "postmaster.pid").exists()

    def _run(self, *argv: object) -> None:
        result = subprocess.run(_as_postgres([str(a) for a in argv]), capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"{argv[0]} failed: {result.stdout[-1500:]}{result.stderr[-1500:]}")
