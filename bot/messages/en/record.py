MESSAGES = {
    "record.pending": ":warning: `{command}` was done at SORACOM, but the bot's database refused its audit record "
                      "just now. The record is kept and will be written as soon as the database works again; "
                      "`/soracom audit` shows it then. Nothing more is needed from you.",
}
MESSAGES |= {
    "record.resolved_done": ":information_source: The bot restarted while doing `{command}`. Read back from SORACOM "
                            "afterwards: it *was done*. `/soracom audit` records it.",
    "record.resolved_not_done": ":information_source: The bot restarted while doing `{command}`. Read back from "
                                "SORACOM afterwards: it was *not* done, nothing was changed. Type the command again "
                                "if you still want it.",
    "record.resolved_unknown": ":warning: The bot restarted while doing `{command}`, and it could not be read back: "
                               "it *may or may not* have been done. Check it before trying again; `/soracom audit` "
                               "records it as unknown.",
}
MESSAGES |= {
    "record.request_lost": ":warning: The bot restarted while handling `{command}`. If it had begun a change at "
                           "SORACOM, another message says how that ended; otherwise nothing was done: type the "
                           "command again.",
    "record.press_lost": ":warning: The bot restarted while handling the button you pressed. If it had begun a "
                         "change at SORACOM, another message says how that ended; otherwise nothing was done: press "
                         "it again or type the command.",
}
MESSAGES |= {
    "record.worker_busy": ":hourglass: The bot is restarting; nothing was done. Try again in a minute.",
    "record.worker_busy_command": ":hourglass: The bot is restarting; nothing was done (`{command}`). Try again "
                                  "in a minute.",
}
MESSAGES |= {
    "record.older_version": "This confirmation of `{command}` was made by an older version of the bot, which this "
                            "one cannot run. Nothing was done: type the command again.",
}
MESSAGES |= {
    "record.not_started": ":warning: The bot's database refused to record `{command}` before doing it, so nothing "
                          "was done. Try again in a minute.",
}
