MESSAGES = {
    "record.pending": ":warning: `{command}` was done at SORACOM, but the bot's database refused its audit record "
                      "just now. The record is kept and will be written as soon as the database works again; "
                      "`/soracom audit` shows it then. Nothing more is needed from you.",
}
