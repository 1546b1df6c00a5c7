MESSAGES = {
    "bill.usage": (
        "`/bill [YYYYMM]` — 指定月の利用料金と内訳 (既定: 今月の現時点まで)\n"
        "`/bill export [YYYYMM]` — 指定月の課金詳細情報 CSV のリンク\n"
        "`/bill daily [YYYYMM]` — 指定月の日別利用料金 (グラフとテキスト)\n"
        "`/bill schedule` — 月次サマリーの投稿先と投稿日時 (admin)\n"
        "`/bill schedule CHANNEL [CRON]` · `/bill schedule off` — 月次サマリーを設定 / 停止 (admin)"
    ),
    "bill.bad_month": "`{value}` は月ではありません。YYYYMM の形式で入力してください (例: `/bill 201908`)。",
    "bill.future_month": "`{value}` はまだ始まっていません (今月は {current} です)。今月以前の月を入力してください。",
    "bill.too_many_args": "月は 1 つだけ入力してください (例: `{example}`)。",
    "bill.not_found": "SORACOM に {month} の請求はありません。アカウントを利用した月を入力してください。",
    "bill.title": "{month} の利用料金",
    "bill.text": "{month} の利用料金: {amount} ({state}、支払い: {payment})。{change}",
    "bill.amount": "金額",
    "bill.state": "状態",
    "bill.payment": "支払い",
    "bill.change": "{previous} との差額",
    "bill.state_closed": "確定",
    "bill.state_temporary": "速報値 (集計中)",
    "bill.payment_none": "未請求",
    "bill.change_value": "{sign}{amount} ({sign}{percent}%)",
    "bill.change_no_percent": "{sign}{amount}",
    "bill.change_unknown": "{previous} の請求なし",
    "bill.items_title": "*課金項目別*",
    "bill.sims_title": "*利用料金の多い SIM*",
    "bill.item_line": "• {name}{category} — {amount}",
    "bill.sim_line": "• `{sim}` — {amount}",
    "bill.more": "…ほか {count} 件",
    "bill.no_breakdown": "SORACOM が提供する課金項目別・SIM 別の内訳は、直近 4 か月分のみです。",
    "bill.empty_breakdown": "この月は課金項目別・SIM 別の料金はありません。",
    "bill.export_done": "{month} の課金詳細情報 CSV: <{url}|ダウンロード> (リンクには有効期限があります。新しいリンクは `/bill export {month}` を再度実行して取得してください)。",
    "bill.daily_title": "{month} の日別利用料金",
    "bill.daily_text": "{month} の日別利用料金 ({currency}、合計 {total}{peak}): {days}",
    "bill.daily_peak": "、最大 {amount} ({day} 日)",
    "bill.daily_none": "SORACOM に {month} の日別利用料金はまだありません。",
    "bill.daily_chart_failed": "ここにグラフを投稿できませんでした ({error})。数値は以下のとおりです:",
    "bill.summary_title": "SORACOM 月次利用料金: {month}",
    "bill.history_text": "過去 12 か月 ({currency}): {months}",
    "bill.history_missing": "なし",
    "bill.history_chart_title": "SORACOM 利用料金 (過去 12 か月)",
    "bill.schedule_usage": (
        "`/bill schedule CHANNEL [CRON]` の形式で入力してください (例: `/bill schedule #ops 0 9 4 * *` は毎月 4 日 09:00、{tz})。"
        "停止するには `/bill schedule off` と入力します。"
    ),
    "bill.schedule_bad_cron": "{error}。5 つのフィールド (分 時 日 月 曜日) を指定してください (例: `0 9 4 * *`)。",
    "bill.schedule_status": "月次利用料金サマリーは `{cron}` ({tz}) に <#{channel}> へ投稿されます{source}。{next}",
    "bill.schedule_status_off": "月次利用料金サマリーは停止中です{source}。開始するには `/bill schedule CHANNEL [CRON]` を実行してください。",
    "bill.schedule_source_admin": " (<@{user}> が設定)",
    "bill.schedule_source_config": " (設定ファイルによる)",
    "bill.schedule_next": "次回: {when}",
    "bill.schedule_set": ":calendar: <@{user}> が月次利用料金サマリーを設定しました: `{cron}` ({tz}) に <#{channel}> へ投稿。{next}",
    "bill.schedule_off": ":calendar: <@{user}> が月次利用料金サマリーを停止しました。",
}
