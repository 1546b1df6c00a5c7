MESSAGES = {
    "common.sandbox_marker": ":test_tube: *サンドボックス* — 組み込みの SORACOM エミュレーターで動作中です。実際の SIM・発注・請求には影響しません。",
    "common.unknown_subcommand": "`{command} {sub}` というコマンドはありません。{usage}",
    "common.usage_title": "*`{command}` の使い方*",
    "common.refused_role": "あなたの権限は *{role}* です。`{command} {sub}` には *{required}* 権限が必要です。管理者に依頼してください: `/soracom role <@{user}> {required}`",
    "common.internal_error": ":warning: ボット側でエラーが発生しました (参照番号 `{ref}`)。ここではこれ以上の情報はありません。管理者はこの参照番号でボットのログから詳細を確認できます。",
    "common.soracom_error": ":warning: SORACOM が処理を拒否しました: {message}",
    "common.soracom_unavailable": ":warning: SORACOM に接続できませんでした ({message})。何も変更していません。1 分ほど待ってから再度お試しください。",
    "common.slack_error": ":warning: Slack が呼び出しを拒否しました (`{error}`)。実行済みの操作は `/soracom audit` で確認できます。",
    "common.slack_not_in_channel": ":warning: このチャンネルには投稿できません (`{error}`)。`/invite @soracom` でボットを招待するか、パブリックチャンネルを使用してください。実行済みの操作は `/soracom audit` で確認できます。",
    "common.bad_quotes": "`{text}` の引用符が閉じていません。引用符を閉じるか、削除してください。",
    "common.command_too_long": "このコマンドは {length:,} 文字です。受け付けるのは {limit:,} 文字までです。"
                               "何も実行していません。短くしてください (例: 大きな値は複数のコマンドに分ける)。",
    "common.bad_user": "`{value}` は Slack ユーザーではありません。ユーザーをメンション (`@name`) するか、`U012AB3CD` のようなユーザー ID を指定してください。",
    "common.bad_channel": "`{value}` は Slack チャンネルではありません。チャンネルをメンション (`#name`) するか、`C012AB3CD` のようなチャンネル ID を指定してください。",
    "common.tag_key_too_long": "タグのキー `{key}` は {length:,} 文字です。受け付けるのは {limit:,} 文字までです。"
                               "何も変更していません。短いキーにしてください (例: `site`)。",
    "common.tag_value_too_long": "タグ `{key}` の値は {length:,} 文字です。受け付けるのは {limit:,} 文字までです。"
                                 "何も変更していません。短くするか、長い文章は SORACOM の外に置き、その参照をタグにしてください。",
    "common.pending_not_yours": "この確認は <@{owner}> さんのものです。同じ操作をするには、ご自身でコマンドを実行してください。",
    "common.pending_expired": "この確認は有効期限 (5 分) が切れました。何も実行していません。コマンドを再度実行してください。",
    "common.pending_taken": "この確認はすでに実行済みです (実行は 1 回限りです)。追加では何も実行していません。",
    "common.pending_cancelled": "キャンセルしました。何も変更していません。",
    "common.pending_unknown": "この確認は見つかりません (以前のインストール時のものかもしれません)。何も実行していません。コマンドを再度実行してください。",
    "common.stale_button": "このボタンは古いメッセージのもので、現在は機能しません。コマンドを再度実行してください。",
    "common.confirm": "確認",
    "common.cancel": "キャンセル",
    "common.running": ":hourglass_flowing_sand: 処理中です…",
}
