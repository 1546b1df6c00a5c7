from bot.store.db import Database, off_loop

__all__ = ["Database", "off_loop"]
