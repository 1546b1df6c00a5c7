MESSAGES = {
    "devices.usage_diagnose": "`/sim diagnose TARGET` と入力してください。例: `/sim diagnose sensor-02`（IMSI または SIM 名を 1 つ）",
    "devices.usage_ping": "`/sim ping TARGET` と入力してください。例: `/sim ping sensor-02`（IMSI または SIM 名を 1 つ）",
    "devices.usage_reconnect": "`/sim reconnect TARGET` と入力してください。例: `/sim reconnect sensor-02`"
                               "（IMSI または SIM 名を 1 つ）",
    "devices.usage_sms": "`/sim sms TARGET TEXT` と入力してください。例: `/sim sms sensor-02 wake up`"
                         "（IMSI または SIM 名を 1 つ、続けて本文）",
    "devices.one_sim": "`/sim {sub}` は 1 枚ずつです。セレクタではなく IMSI か SIM 名を 1 つ指定してください。",
    # Diagnose
    "devices.title": ":stethoscope: *{sim} の診断*",
    "devices.field_status": "ステータス",
    "devices.field_online": "オンライン",
    "devices.field_speed": "速度クラス",
    "devices.field_group": "グループ",
    "devices.field_imei_lock": "IMEI ロック",
    "devices.field_last_imei": "最後の IMEI",
    "devices.online_yes": "オンライン",
    "devices.online_no": "オフライン",
    "devices.online_since": "{when} からオフライン（{ago}）",
    "devices.no_group": "なし",
    "devices.no_lock": "ロックなし",
    "devices.lock_matches": "{imei}（デバイスと一致）",
    "devices.lock_mismatch": "{imei}（デバイスは {device}: *不一致*）",
    "devices.lock_unknown": "{imei}（IMEI はまだ見えていません）",
    "devices.unknown": "不明",
    "devices.sessions_title": "*最近のセッション*",
    "devices.sessions_none": "過去 32 日間にセッションはありません。",
    "devices.session_line": "{when} — *{event}* {rat}{cell}{place}",
    "devices.event.Created": "開始",
    "devices.event.Modified": "変更",
    "devices.event.Deleted": "終了",
    "devices.place": " — <{url}|地図>（半径 {range} メートル）",
    "devices.place_unknown": " — 場所不明",
    "devices.history_title": "*ステータス履歴*",
    "devices.history_none": "ステータスの変更は記録されていません。",
    "devices.history_line": "{when} — {status}、{speed}{by}",
    "devices.history_by": "、<@{user}> による",
    "devices.traffic_title": "*過去 24 時間の通信量*（1 時間ごと、合計 {total}）",
    "devices.traffic_none": "過去 24 時間の通信はありません。",
    "devices.unread": ":warning: SORACOM から読めなかったもの: {parts}。それ以外は SORACOM の応答どおりです。",
    "devices.part.sessions": "セッション履歴",
    "devices.part.places": "基地局の位置",
    "devices.part.history": "ステータス履歴",
    "devices.part.traffic": "通信量",
    "devices.part.group": "グループ",
    "devices.part.diagnosis": "SORACOM の診断",
    "devices.diagnosis_title": "*SORACOM の診断*",
    "devices.diagnosis_pending": ":hourglass_flowing_sand: SORACOM が診断中です。終わるとこのメッセージが更新されます。",
    "devices.diagnosis_failed": "SORACOM は診断を完了できませんでした。",
    "devices.diagnosis_unfinished": "SORACOM の診断が時間内に終わりませんでした。しばらくして `/sim diagnose {target}` "
                                    "をもう一度実行してください。",
    "devices.diagnosis_unread": "SORACOM の診断を読めませんでした。",
    "devices.insight_line": "{icon} {message}",
    "devices.insight.sim-not-active": "SIM がアクティブではありません。アクティブにするまでデータセッションを開けません。",
    "devices.insight.imei-mismatch": "SIM が別のデバイスの IMEI にロックされているため、このデバイスのセッションは拒否されます。",
    "devices.insight.no-session": "デバイスにしばらくデータセッションがありません。",
    "devices.insight.speed-minimum": "速度クラスが `s1.minimum`（最大 `32 kbps`）です。",
    "devices.insight.no-problem": "問題は見つかりませんでした。",
    "devices.verdict_title": "*判定*",
    "devices.verdict.inactive": ":red_circle: SIM は *{status}* です。アクティブにするまでデバイスは接続できません。",
    "devices.verdict.terminated": ":x: SIM は解約済みです。どのデバイスも二度と使えません。",
    "devices.verdict.imei_mismatch": ":lock: SIM は IMEI `{lock}` にロックされていますが、デバイスが最後に使った IMEI は "
                                     "`{imei}` です。SORACOM はこのデバイスを拒否します。その IMEI のデバイスに SIM を戻すか、"
                                     "`/sim imei-lock {target} IMEI` で新しいデバイスにロックし直してください"
                                     "（ロック解除には MFA コードが必要です）。",
    "devices.verdict.quiet": ":zzz: デバイスは {when}（{ago}）から通信していません。電源断・圏外・停止のいずれかです。"
                             "疎通確認（`ping`）、セッションを切って再接続させる、または SMS で起こす（`/sim sms {target} TEXT`）"
                             "を試してください。",
    "devices.verdict.offline": ":large_yellow_circle: デバイスは {when}（{ago}）にオフラインになりました。"
                               "自動で再接続することがあります。疎通確認（`ping`）で応答を確認できます。",
    "devices.verdict.quiet_never": ":zzz: デバイスは過去 32 日間接続していません。電源とアンテナを確認してください。"
                                   "SMS で起きることがあります: `/sim sms {target} TEXT`",
    "devices.verdict.slowed": ":snail: SIM は *{speed}* で動いています（アラートなどで減速）。理由がなくなったら速度を戻してください。",
    "devices.verdict.healthy": ":large_green_circle: デバイスは接続中で、問題は見当たりません。",
    "devices.button_activate": "アクティブにする",
    "devices.button_reconnect": "再接続",
    "devices.button_ping": "疎通確認",
    "devices.button_restore": "速度を戻す",
    "devices.button_sms": "SMS を送る",
    "devices.sms_modal_title": "SMS を送る",
    "devices.sms_modal_submit": "送信",
    "devices.sms_modal_intro": "`{imsi}` のデバイスへの SMS です。GSM の文字なら 160 文字、日本語などを含むと 70 文字まで。"
                               "本文は監査ログに残りません。",
    "devices.sms_modal_label": "本文",
    "devices.button_diagnose": "診断",
    "devices.ago_hours": "{hours} 時間前",
    "devices.ago_minutes": "{minutes} 分前",
    "devices.ago_days": "{days} 日前",
    # Ping
    "devices.ping_ok": ":satellite_antenna: {sim} への疎通確認（`ping`）: 応答 *{received}/{sent}*、損失 {loss}、平均往復時間 *{rtt} ミリ秒*。",
    "devices.ping_failed": ":satellite_antenna: {sim} への疎通確認（`ping`）: *応答なし*（送信 {sent}、損失 {loss}）。"
                           "有効なセッションがありません。理由は `/sim diagnose {target}` で確認できます。",
    # Reconnect
    "devices.reconnected": ":arrows_counterclockwise: *データセッションを終了しました* — {sim}、<@{user}> による。"
                           "デバイスは自動で再接続します。",
    "devices.reconnect_failed": "{sim} のセッションを終了できませんでした: {reason}",
    # SMS
    "devices.sms_empty": "SMS の本文が空です。`/sim sms TARGET TEXT` と入力してください。",
    "devices.sms_too_long_1": "SMS は {length} 文字です。`GSM 7-bit` では {limit} 文字までです（`€ [ ] {{ }}` などは 2 文字）。"
                              "送信していません。短くしてください。",
    "devices.sms_too_long_2": "SMS は {length} 文字です。GSM の文字以外を含むため UCS-2 で送り、{limit} 文字までです。"
                              "送信していません。短くしてください。",
    "devices.sms_sent": ":envelope: *SMS を送信しました* — {sim}、{length} 文字（{encoding}）、<@{user}> による。",
    "devices.sms_failed": "{sim} に SMS を送れませんでした: {reason}",
    "devices.encoding.1": "`GSM 7-bit`",
    "devices.encoding.2": "UCS-2",
    # Home
    "devices.home_quiet_title": "*この 1 日でオフラインになった SIM*",
    "devices.home_quiet_line": "{sim} — {when} からオフライン",
}
