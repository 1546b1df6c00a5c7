"""The console's own data folder: its database, the embedded emulator's state, the key of its encrypted secrets and
the authenticator keys the console plays. Never `serve`'s database: a console experiment (a one-minute bill schedule,
a role) must not carry into a workspace. The database and the emulator state go together: a folder holding one
without the other is started afresh, since the database would speak of SIMs, orders and rules SORACOM lacks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.security.crypto import KEY_FILE
from bot.store.outbox import outbox_path

DEFAULT_CONSOLE_DIR = Path("data") / "console"
DATABASE_FILE = "bot.db"
EMULATOR_FILE = "emulator.json"
AUTHENTICATOR_FILE = "authenticator.json"
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True)
class ConsoleFolder:
    path: Path = DEFAULT_CONSOLE_DIR

    @property
    def database(self) -> Path:
        return self.path / DATABASE_FILE

    @property
    def emulator_state(self) -> Path:
        return self.path / EMULATOR_FILE

    @property
    def authenticator(self) -> Path:
        return self.path / AUTHENTICATOR_FILE

    def settings(self, base: Settings) -> Settings:
        """`base` with the database and the data folder in here, whatever DATABASE_URL and BOT_DATA_DIR say."""
        return base.model_copy(update={"DATABASE_URL": f"sqlite:///{self.database}", "BOT_DATA_DIR": str(self.path)})

    def half_kept(self) -> bool:
        """One of the two is there without the other (deleted by hand, or a first start that crashed)."""
        return self.database.exists() != self.emulator_state.exists()

    def wipe(self) -> None:
        """Both afresh: the database, the emulator state, the secret key and the authenticator keys go together.
        Only the files the console makes: `--data` may name a folder that holds other things."""
        for name in (*(DATABASE_FILE + suffix for suffix in SQLITE_COMPANIONS), EMULATOR_FILE, AUTHENTICATOR_FILE,
                     KEY_FILE, outbox_path(self.path).name):
            (self.path / name).unlink(missing_ok=True)
