"""The one Japanese glossary of SORACOM's SIM words: each status and each action in the words the SORACOM User
Console uses, one word per concept. Every other Japanese text that names a status or an action takes it from
here (`STATUS`, `ACTION`), so a button, a preview, a card, Home and an audit line say the same thing.

Console words: 使用開始 (activate), 休止 (deactivate → 休止中, inactive), 利用中断 (suspend → 利用中断中,
suspended), 利用開始待ち (standby), 解約 (terminate → 解約済み).
"""

STATUS = {
    "ready": "準備完了",
    "active": "使用中",
    "inactive": "休止中",
    "standby": "利用開始待ち",
    "suspended": "利用中断中",
    "terminated": "解約済み",
    "instock": "在庫",
    "shipped": "出荷済み",
    "banned": "利用停止",
}

ACTION = {
    "activate": "使用開始",
    "standby": "利用開始待ちに変更",
    "deactivate": "休止",
    "suspend": "利用中断",
    "terminate": "解約",
}

# Audit actions shown by their glossary word (Home, /soracom audit); the others by their id, as code.
AUDIT_ACTION = {f"sim.{action}": word for action, word in ACTION.items()} | {"alerts.suspend": ACTION["suspend"]}

AUDIT_RESULT = {"ok": "成功", "refused": "拒否", "failed": "失敗", "unknown": "結果不明", "error": "エラー"}

MESSAGES = {
    **{f"audit.result.{result}": word for result, word in AUDIT_RESULT.items()},
    **{f"sim.status.{status}": word for status, word in STATUS.items()},
    **{f"sim.what.{action}": word for action, word in ACTION.items()},
    **{f"audit.action.{action}": word for action, word in AUDIT_ACTION.items()},
}
