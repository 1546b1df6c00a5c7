MESSAGES = {
    "surface.no_such_command": "`{command}` is no such command — `/soracom help` lists the commands.",
    "surface.database_unavailable": ":warning: The bot's database is unavailable; nothing was done. "
                                    "Try again in a few minutes; an admin can check the bot's `/healthz`.",
}
