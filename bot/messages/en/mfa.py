MESSAGES = {
    "mfa.usage": (
        "`/mfa enroll` — set up your authenticator app (shown only to you)\n"
        "`/mfa verify CODE` — confirm your enrollment with the first code\n"
        "`/mfa status` — enrolled since, last used, locked until\n"
        "`/mfa reset USER` — remove a user's enrollment so they can enroll again (admin; asks for your code)"
    ),
    "mfa.enroll_title": "Set up MFA",
    "mfa.enroll_intro": (
        "Add *SORACOM Bot* to your authenticator app (Google Authenticator, 1Password, Authy…). "
        "Money and destruction (terminating SIMs, orders, deleting groups, roles) will ask for its code."
    ),
    "mfa.enroll_link": "*Scan the QR code:* <{url}|open this one-time page> (works once, for 10 minutes).",
    "mfa.enroll_secret": "*Or type the key:* `{secret}`\n(time-based, 6 digits, every 30 seconds)",
    "mfa.enroll_uri": "*Or open the URI on your phone:*\n`{uri}`",
    "mfa.enroll_code_label": "Code your app shows now",
    "mfa.enroll_submit": "Confirm",
    "mfa.enroll_done": ":white_check_mark: MFA is active for you. Gated actions will ask for a code from your app.",
    "mfa.enroll_already": "You are already enrolled (since {since}). To start over, ask an admin for `/mfa reset @you`.",
    "mfa.verify_usage": "Type `/mfa verify CODE` with the 6 digits your app shows, e.g. `/mfa verify 123456`.",
    "mfa.verify_none": "You have no enrollment waiting for a code. Run `/mfa enroll` first.",
    "mfa.verify_already": "Your enrollment is already active; nothing to verify.",
    "mfa.status_none": "You are not enrolled. Run `/mfa enroll` to set up your authenticator app.",
    "mfa.status_pending": "Your enrollment waits for its first code: `/mfa verify CODE`.",
    "mfa.status": "*MFA* for <@{user}>: active since {since}; last used {last}; {locked}.",
    "mfa.status_locked": "*locked until {until}* after too many wrong codes",
    "mfa.status_blocked": "*locked until an admin runs `/mfa reset`* after too many wrong codes in 24 hours",
    "mfa.status_unlocked": "not locked",
    "mfa.never": "never",
    "mfa.reset_usage": "Type `/mfa reset USER`, e.g. `/mfa reset @alice`.",
    "mfa.reset_preview": "Remove the MFA enrollment of <@{user}>. They will have to enroll again before any gated action.",
    "mfa.reset_done": ":white_check_mark: The MFA enrollment of <@{user}> was removed by <@{by}>. They can run `/mfa enroll` again.",
    "mfa.reset_none": "<@{user}> has no MFA enrollment; nothing was removed.",
}
