MESSAGES = {
    "surface.no_such_command": "`{command}` というコマンドはありません — `/soracom help` でコマンドの一覧を表示します。",
    "surface.database_unavailable": ":warning: ボットのデータベースが利用できません。何も実行されていません。"
                                    "数分後にもう一度お試しください。管理者はボットの `/healthz` で状態を確認できます。",
}
