MESSAGES = {
    "mfa.usage": (
        "`/mfa enroll` — 認証アプリを設定 (あなたにだけ表示)\n"
        "`/mfa verify CODE` — 最初のコードで登録を確定\n"
        "`/mfa status` — 登録日時、最終使用日時、ロック期限\n"
        "`/mfa reset USER` — ユーザーの登録を削除して再登録できるようにする (admin。あなたのコードが必要)"
    ),
    "mfa.enroll_title": "二段階認証の設定",
    "mfa.enroll_intro": (
        "認証アプリ (Google Authenticator、1Password、Authy など) に *SORACOM Bot* を追加してください。"
        "費用が発生する操作や取り消せない操作 (SIM の解約、発注、グループの削除、権限の変更) では、そのワンタイムコードの入力を求めます。"
    ),
    "mfa.enroll_link": "*QR コードを読み取る:* <{url}|このワンタイムページを開く> (1 回限り、10 分間有効)",
    "mfa.enroll_secret": "*またはキーを入力:* `{secret}`\n(時間ベース、6 桁、30 秒ごとに更新)",
    "mfa.enroll_uri": "*またはスマートフォンで URI を開く:*\n`{uri}`",
    "mfa.enroll_code_label": "アプリに表示中のコード",
    "mfa.enroll_submit": "確認",
    "mfa.enroll_done": ":white_check_mark: 二段階認証を有効にしました。二段階認証が必要な操作では、アプリのコードの入力を求めます。",
    "mfa.enroll_already": "すでに登録済みです ({since} から)。最初からやり直すには、管理者に `/mfa reset @you` を依頼してください。",
    "mfa.verify_usage": "`/mfa verify CODE` の形式で、アプリに表示された 6 桁を入力してください (例: `/mfa verify 123456`)。",
    "mfa.verify_none": "コードの確認を待っている登録はありません。先に `/mfa enroll` を実行してください。",
    "mfa.verify_already": "登録はすでに有効です。確認は不要です。",
    "mfa.status_none": "二段階認証は未登録です。`/mfa enroll` を実行して認証アプリを設定してください。",
    "mfa.status_pending": "登録は最初のコードの確認待ちです: `/mfa verify CODE`",
    "mfa.status": "<@{user}> の *二段階認証*: {since} から有効、最終使用 {last}、{locked}。",
    "mfa.status_locked": "コードの誤りが多すぎたため *{until} までロック中*",
    "mfa.status_blocked": "24 時間以内のコードの誤りが多すぎたため、*管理者が `/mfa reset` を実行するまでロック中*",
    "mfa.status_unlocked": "ロックなし",
    "mfa.never": "なし",
    "mfa.reset_usage": "`/mfa reset USER` の形式で入力してください (例: `/mfa reset @alice`)。",
    "mfa.reset_preview": "<@{user}> の二段階認証の登録を削除します。二段階認証が必要な操作を行う前に、再登録が必要になります。",
    "mfa.reset_done": ":white_check_mark: <@{by}> が <@{user}> の二段階認証の登録を削除しました。`/mfa enroll` で再登録できます。",
    "mfa.reset_none": "<@{user}> は二段階認証を登録していません。何も削除していません。",
}
