MESSAGES = {
    "soracom.usage": (
        "`/soracom help` — すべてのコマンド\n"
        "`/soracom roles` — 各ユーザーの権限\n"
        "`/soracom role USER admin|operator|viewer` — 権限を付与 (admin。ワンタイムコードが必要)\n"
        "`/soracom audit [N]` — 監査ログの最新 N 件 (operator、admin。既定 20 件、最大 100 件)"
    ),
    "soracom.help_title": "*SORACOM Bot* — すべてのコマンド (`/X help` で各コマンドの詳細を表示)。ボットの *ホーム* タブでフリートの概要 (SIM、セッション、利用料金と着地予測、最近の操作) を確認できます。",
    "soracom.roles_title": "*権限* (ほかのユーザーはすべて viewer です):",
    "soracom.roles_line": "• <@{user}> — *{role}* (付与: {by})",
    "soracom.roles_none": "付与された権限はまだありません。全員が viewer です。admin は `BOT_ADMINS` で設定します。",
    "soracom.role_usage": "`/soracom role USER admin|operator|viewer` の形式で入力してください (例: `/soracom role @alice operator`)。",
    "soracom.role_bad": "`{value}` は権限ではありません。権限: `admin`、`operator`、`viewer`",
    "soracom.role_preview": "<@{user}> に *{role}* 権限を付与します (現在: *{current}*)。",
    "soracom.role_done": ":white_check_mark: <@{user}> の権限を *{role}* に変更しました (変更前: *{previous}*、変更者: <@{by}>)。",
    "soracom.audit_bad": "`{value}` は件数ではありません。`/soracom audit` または `/soracom audit 50` のように入力してください (1〜100)。",
    "soracom.audit_title": "*監査ログ 最新 {count} 件* (新しい順、時刻は {tz}):",
    "soracom.audit_line": "`{at}` <@{user}> {action} {target} → *{result}*{error}",
    "soracom.audit_none": "監査ログは空です。",
}
