MESSAGES = {
    "common.sandbox_marker": ":test_tube: *Sandbox* — embedded SORACOM emulator; no real SIMs, orders or bills are touched.",
    "common.unknown_subcommand": "`{command} {sub}` is not a command. {usage}",
    "common.usage_title": "*Usage of `{command}`*",
    "common.refused_role": "You are a *{role}*; `{command} {sub}` needs the *{required}* role. Ask an admin: `/soracom role <@{user}> {required}`.",
    "common.internal_error": ":warning: Something went wrong on our side (reference `{ref}`). Nothing more is known here; an admin can find the details in the bot's log under that reference.",
    "common.soracom_error": ":warning: SORACOM refused: {message}",
    "common.soracom_unavailable": ":warning: SORACOM could not be reached ({message}). Nothing was changed; try again in a minute.",
    "common.slack_error": ":warning: Slack refused a call (`{error}`). `/soracom audit` shows what was done.",
    "common.slack_not_in_channel": ":warning: I cannot post in this channel (`{error}`): invite me with `/invite @soracom`, or use a public channel. `/soracom audit` shows what was done.",
    "common.bad_quotes": "Unbalanced quotes in `{text}`. Close the quote or leave it out.",
    "common.command_too_long": "That command is {length:,} characters long; at most {limit:,} are accepted. "
                               "Nothing was done. Shorten it, e.g. split a large value into several commands.",
    "common.bad_user": "`{value}` is not a Slack user. Mention the user (`@name`) or give a user ID such as `U012AB3CD`.",
    "common.bad_channel": "`{value}` is not a Slack channel. Mention the channel (`#name`) or give a channel ID such as `C012AB3CD`.",
    "common.tag_key_too_long": "The tag key `{key}` has {length:,} characters; at most {limit:,} are accepted. "
                               "Nothing was changed. Use a shorter key, e.g. `site`.",
    "common.tag_value_too_long": "The value of tag `{key}` has {length:,} characters; at most {limit:,} are "
                                 "accepted. Nothing was changed. Shorten it, or keep long text outside SORACOM "
                                 "and tag a reference to it.",
    "common.pending_not_yours": "This confirmation belongs to <@{owner}>. Run the command yourself to do the same.",
    "common.pending_expired": "This confirmation has expired (they last 5 minutes). Nothing was done; run the command again.",
    "common.pending_taken": "This was already confirmed once; it runs only once. Nothing more was done.",
    "common.pending_cancelled": "Cancelled. Nothing was changed.",
    "common.pending_unknown": "This confirmation is unknown (perhaps from an earlier installation). Nothing was done; run the command again.",
    "common.stale_button": "This button belongs to an older message and does nothing now. Run the command again.",
    "common.confirm": "Confirm",
    "common.cancel": "Cancel",
    "common.running": ":hourglass_flowing_sand: Working on it…",
}
