MESSAGES = {
    "alerts.usage": (
        "`/alerts channel CHANNEL` — アラートカードの投稿先 (admin)\n"
        "`/alerts setup RULE [LIMIT] [group:NAME]` — SORACOM のイベントハンドラーのルールを作成・更新 (admin)。"
        "ルール: `daily-traffic LIMIT`、`monthly-traffic LIMIT` (例 `100MB`、`2GB`)、`status-change`、"
        "`session-disconnect`、`expiry`\n"
        "`/alerts list` — ルール、アラートチャンネル、ミュート中の対象\n"
        "`/alerts off RULE [group:NAME]` — SORACOM のルールを削除 (admin)\n"
        "`/alerts mute TARGET [DURATION]` — SIM (IMSI または名前) かルールのカードを止める。例 `30m`、`12h`、`7d` "
        "(既定 `24h`)\n"
        "`/alerts unmute TARGET` — カードを再開\n"
        "イベントごとに *減速*、*休止* (MFA コードが必要)、*SIM を表示*、*ミュート* のボタン付きカードを投稿します。"
    ),
    "alerts.usage_channel": "`/alerts channel CHANNEL` と入力してください。例: `/alerts channel #ops`",
    "alerts.usage_setup": "`/alerts setup RULE [LIMIT] [group:NAME]` と入力してください。"
                          "例: `/alerts setup daily-traffic 100MB`。ルール: {rules}",
    "alerts.usage_limit": "`{rule}` には上限を 1 つ指定してください。例: `/alerts setup {rule} 100MB` (MB または GB)",
    "alerts.no_limit_taken": "`{rule}` は上限を取りません。`{extra}` は解釈できません。"
                             "`/alerts setup {rule} [group:NAME]` と入力してください。",
    "alerts.usage_off": "`/alerts off RULE [group:NAME]` と入力してください。例: `/alerts off daily-traffic`",
    "alerts.usage_mute": "`/alerts mute TARGET [DURATION]` と入力してください。例: `/alerts mute sensor-01 12h`、"
                         "`/alerts mute daily-traffic 1d`",
    "alerts.usage_unmute": "`/alerts unmute TARGET` と入力してください。例: `/alerts unmute sensor-01`",
    "alerts.unknown_rule": "`{rule}` はアラートのルールではありません。ルール: {rules}",
    "alerts.bad_limit": "`{value}` は通信量の上限ではありません。`100MB` や `2GB` のように入力してください (1 MB 以上)。",
    "alerts.bad_duration": "`{value}` は期間ではありません。`30m`、`12h`、`7d` のように入力してください (最大 90 日)。",
    "alerts.no_token": "アラートは無効です。ボットの環境変数に `BOT_EVENTS_TOKEN` (長いランダムな秘密値) を設定して"
                       "再起動し、もう一度 `/alerts setup` を実行してください。何も作成していません。",
    "alerts.needs_public_url": "アラートにはボットの公開アドレスが必要です。`BOT_PUBLIC_URL` に https:// の URL "
                               "(例: `https://bot.example.com`、manifest.yml と同じもの) を設定してボットを再起動し、"
                               "もう一度 `/alerts setup` を実行してください。SORACOM は各アラートをそこへ送ります。"
                               "何も作成していません。",
    "alerts.public_url_not_https": "`BOT_PUBLIC_URL` は `{url}` です。SORACOM がアラートを送れるのは https:// の URL "
                                   "だけです。ボットの https:// のアドレスを設定して再起動し、もう一度 `/alerts setup` "
                                   "を実行してください。何も作成していません。",
    "alerts.channel_set": ":white_check_mark: 今後アラートカードは <#{channel}> に投稿します。",
    "alerts.channel_ref": "カードは <#{channel}> に投稿します。",
    "alerts.no_channel": "アラートチャンネルが未設定です。`/alerts channel #ops` と入力してください (未設定のイベントは破棄されます)。",
    "alerts.spec": "*{rule}*{limit}、{scope}",
    "alerts.scope_group": "グループ *{group}* の SIM",
    "alerts.scope_all": "すべての SIM",
    "alerts.setup_created": ":white_check_mark: SORACOM にイベントハンドラーのルールを作成しました (`{id}`): {what}。{channel}",
    "alerts.setup_updated": ":white_check_mark: SORACOM のイベントハンドラーのルールを更新しました (`{id}`): {what}。{channel}",
    "alerts.list_channel": "*アラートチャンネル:* <#{channel}>",
    "alerts.list_line": "• `{key}` — {rule}、上限 {limit} MiB、*{status}*",
    "alerts.list_none": "アラートのルールはまだありません。`/alerts setup daily-traffic 100MB` で作成できます。",
    "alerts.list_mute": ":mute: `{target}` は {until} までミュート中",
    "alerts.off_none": "アラートのルール `{rule}` は設定されていません。`/alerts list` で確認できます。何も削除していません。",
    "alerts.off_done": ":white_check_mark: SORACOM のイベントハンドラーのルール `{rule}` を {count} 件削除しました。",
    "alerts.muted": ":mute: `{target}` を {until} までミュートしました。イベントは投稿されません。",
    "alerts.unmuted": ":loud_sound: `{target}` のミュートを解除しました。",
    "alerts.not_muted": "`{target}` はミュートされていません。`/alerts list` で確認できます。",
    "alerts.card_title": ":rotating_light: {sim} — {what}",
    "alerts.what.daily-traffic": "今日の通信量が {limit} MiB を超えました",
    "alerts.what.monthly-traffic": "今月の通信量が {limit} MiB を超えました",
    "alerts.what.status-change": "ステータスが {old} から {new} に変わりました",
    "alerts.what.session-disconnect": "オフラインになりました",
    "alerts.what.expiry": "有効期限に達しました",
    "alerts.field_sim": "SIM",
    "alerts.field_group": "グループ",
    "alerts.field_rule": "ルール",
    "alerts.field_when": "日時",
    "alerts.field_limit": "しきい値",
    "alerts.field_value": "値",
    "alerts.no_group": "(なし)",
    "alerts.button_slow": "減速",
    "alerts.button_suspend": "休止",
    "alerts.button_show": "SIM を表示",
    "alerts.button_mute": "この SIM を 24 時間ミュート",
    "alerts.button_slow_all": "すべて減速",
    "alerts.storm.daily-traffic": ":rotating_light: {count} 枚の SIM が今日 {limit} MiB を超えました",
    "alerts.storm.monthly-traffic": ":rotating_light: {count} 枚の SIM が今月 {limit} MiB を超えました",
    "alerts.storm.status-change": ":rotating_light: {count} 枚の SIM のステータスが変わりました",
    "alerts.storm.session-disconnect": ":rotating_light: {count} 枚の SIM がオフラインになりました",
    "alerts.storm.expiry": ":rotating_light: {count} 枚の SIM が有効期限に達しました",
    "alerts.storm_note": "このルールのアラートが 1 分間に多すぎるため、このカードにまとめています。",
    "alerts.card_unknown": "このアラートはもうボットにありません。`/sim show IMSI` で SIM を表示できます。",
    "alerts.did_slow": ":turtle: <@{user}> がこの SIM を `{speed}` に減速しました。",
    "alerts.did_ask_suspend": ":lock: <@{user}> がこの SIM の休止を依頼しました (確認と MFA コード待ち)。",
    "alerts.did_mute": ":mute: <@{user}> がこの SIM を {until} までミュートしました。",
}
