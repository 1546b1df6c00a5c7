"""Japanese error texts, as SORACOM answers a request that asks for them with `X-Soracom-Lang: ja`.

Per error code: the English text the emulator writes (a pattern of its variable parts) and the Japanese one. A
code or text not listed stays English, as SORACOM's own untranslated messages do.
"""

from __future__ import annotations

import re

JAPANESE: dict[str, list[tuple[str, str]]] = {
    "SEM0001": [(r"The specified subscriber (?P<imsi>\S+) does not exist\.", "指定された SIM {imsi} は存在しません。")],
    "SEM0005": [
        (r"The subscriber (?P<imsi>\d+) is terminated; its status cannot change\.",
         "SIM {imsi} は解約済みのため、ステータスを変更できません。"),
        (r"The status of subscriber (?P<imsi>\d+) cannot change from (?P<old>\w+) to (?P<new>\w+)\.",
         "SIM {imsi} のステータスは {old} から {new} に変更できません。"),
        (r"The subscriber (?P<imsi>\d+) is already terminated\.", "SIM {imsi} はすでに解約済みです。"),
    ],
    "SEM0007": [(r"The subscriber (?P<imsi>\d+) does not belong to a group\.",
                 "SIM {imsi} はグループに所属していません。")],
    "SEM0010": [(r"The subscriber (?P<imsi>\d+) has no tag (?P<tag>.+)\.", "SIM {imsi} にタグ {tag} はありません。")],
    "SEM0016": [(r"The subscriber is offline: specify the IMEI to lock to\.",
                 "SIM がオフラインです。ロックする IMEI を指定してください。")],
    "SEM0017": [(r"Invalid IMEI: (?P<imei>.*)\.", "IMEI が正しくありません: {imei}")],
    "SEM0020": [(r"Invalid speed class: (?P<speed>.*)\.", "速度クラスが正しくありません: {speed}")],
    "SEM0021": [(r"Speed class (?P<speed>\S+) is not available for (?P<plan>\S+)\.",
                 "速度クラス {speed} は {plan} では利用できません。")],
    "SEM0041": [(r"Termination of subscriber (?P<imsi>\d+) is disabled \(termination protection is on\)\..*",
                 "SIM {imsi} は解約プロテクションが ON のため解約できません。")],
    "GRM0001": [(r"The specified group (?P<group>\S+) does not exist\.",
                 "指定されたグループ {group} は存在しません。")],
    "GRM0002": [(r"Unknown configuration namespace: (?P<namespace>.*)\.", "不明な設定の名前空間です: {namespace}")],
    "ORM0001": [(r"The specified order (?P<order>\S+) does not exist\.", "指定された注文 {order} は存在しません。")],
    "ORM0003": [(r"The quotation (?P<order>\S+) has expired .*", "見積もり {order} は有効期限 (30 分) が切れています。"
                                                               "見積もりを作成し直してください。")],
    "ORM0004": [(r"The order (?P<order>\S+) is already confirmed\.", "注文 {order} は確定済みです。")],
    "ORM0008": [(r"The order (?P<order>\S+) has already been shipped and cannot be cancelled\.",
                 "注文 {order} は出荷済みのため、キャンセルできません。")],
    "ORM0009": [(r"The order (?P<order>\S+) is (?P<status>\S+) and cannot be cancelled\.",
                 "注文 {order} は {status} のため、キャンセルできません。")],
    "BIM0001": [(r"No bill for (?P<month>\d+)\.", "{month} の請求はありません。")],
    "SAM0001": [(r"The SAM user (?P<user>\S+) is not allowed to call (?P<operation>\S+)\.",
                 "SAM ユーザー {user} には {operation} を呼び出す権限がありません。")],
    "SAM0004": [(r"The specified SAM user (?P<user>\S+) does not exist\.",
                 "指定された SAM ユーザー {user} は存在しません。")],
    "AUM0001": [(r"API key and API token are required\.", "API キーと API トークンが必要です。")],
    "AUM0002": [(r"Invalid API key or API token\.", "API キーまたは API トークンが正しくありません。")],
    "AUM0003": [(r"The API token has expired\. Authenticate again\.",
                 "API トークンの有効期限が切れています。認証し直してください。")],
    "AUM0004": [(r"Authentication failed: invalid credentials\.", "認証に失敗しました。認証情報が正しくありません。")],
    "COM0001": [(r"Internal server error.*", "サーバー内部エラーが発生しました。"),
                (r"Internal error of the emulator.*", "サーバー内部エラーが発生しました。")],
    "COM0008": [(r"Rate limit exceeded\. Retry later\.",
                 "API の呼び出し回数の上限を超えました。しばらくしてから再実行してください。")],
    "COM0009": [(r"Too many concurrent requests\. Retry later\.",
                 "同時リクエスト数が多すぎます。しばらくしてから再実行してください。")],
}
_COMPILED = {code: [(re.compile(pattern), text) for pattern, text in texts] for code, texts in JAPANESE.items()}


def localized(code: str, message: str, lang: str | None) -> str:
    """`message` of error `code` in `lang` where the emulator has it (Japanese), else as it is."""
    if lang != "ja":
        return message
    for pattern, text in _COMPILED.get(code, ()):
        found = pattern.fullmatch(message)
        if found:
            return text.format(**found.groupdict())
    return message
