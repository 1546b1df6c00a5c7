from bot.messages import Plural

MESSAGES = {
    "gate.modal_title": "Confirm with MFA",
    "gate.modal_submit": "Confirm",
    "gate.code_label": "6-digit code from your authenticator app",
    "gate.code_hint": "The code for the SORACOM Bot entry you added with /mfa enroll.",
    "gate.code_wrong": Plural(by="left", one="That code is not right. {left} more try before a 15-minute lockout.",
                              other="That code is not right. {left} more tries before a 15-minute lockout."),
    "gate.code_wrong_reset": Plural(
        by="left",
        one="That code is not right. {left} more wrong code today and gated actions stay locked for you until an admin runs `/mfa reset` for you.",
        other="That code is not right. {left} more wrong codes today and gated actions stay locked for you until an admin runs `/mfa reset` for you.",
    ),
    "gate.code_malformed": "Type the 6 digits your authenticator app shows, e.g. 123456.",
    "gate.code_replayed": "That code was already used. Wait for the next code (they change every 30 seconds).",
    "gate.locked": "Too many wrong codes: gated actions are locked for you until {until}. Nothing was done.",
    "gate.blocked": "Too many wrong codes in 24 hours: gated actions are locked for you until an admin runs `/mfa reset` for you; then enroll again with `/mfa enroll`. Nothing was done.",
    "gate.not_enrolled": "This action needs a one-time code and you have no MFA enrollment yet. Run `/mfa enroll`, then try again. Nothing was done.",
    "gate.needs_code": ":lock: Confirming asks for a code from your authenticator app.",
    "gate.result_title": "Result",
    "gate.done_title": "Done",
    "gate.running_modal": ":hourglass_flowing_sand: Code accepted. Working on it; the outcome also goes to the channel.",
    "gate.expires": "This confirmation expires in 5 minutes.",
}
