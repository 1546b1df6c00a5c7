from bot.store.db import Database

__all__ = ["Database"]
