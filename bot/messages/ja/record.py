MESSAGES = {
    "record.pending": ":warning: `{command}` は SORACOM で実行されましたが、ボットのデータベースが監査記録の書き込みを"
                      "拒否しました。記録は保管されており、データベースが復旧しだい書き込まれます (その後 "
                      "`/soracom audit` で確認できます)。追加の操作は不要です。",
}
MESSAGES |= {
    "record.resolved_done": ":information_source: `{command}` の実行中にボットが再起動しました。その後 SORACOM から"
                            "読み直した結果、*実行済み* でした。`/soracom audit` に記録されています。",
    "record.resolved_not_done": ":information_source: `{command}` の実行中にボットが再起動しました。その後 SORACOM "
                                "から読み直した結果、*実行されていません* (何も変更されていません)。必要ならコマンドを"
                                "もう一度入力してください。",
    "record.resolved_unknown": ":warning: `{command}` の実行中にボットが再起動し、読み直しもできませんでした。"
                               "実行されたか *不明* です。再実行の前に状態を確認してください (`/soracom audit` には"
                               "不明として記録されています)。",
}
MESSAGES |= {
    "record.request_lost": ":warning: `{command}` の処理中にボットが再起動しました。SORACOM への変更を始めていた場合は"
                           "その結果を別のメッセージでお知らせします。それ以外は何も実行されていません。コマンドを"
                           "もう一度入力してください。",
    "record.press_lost": ":warning: 押されたボタンの処理中にボットが再起動しました。SORACOM への変更を始めていた場合は"
                         "その結果を別のメッセージでお知らせします。それ以外は何も実行されていません。もう一度押すか"
                         "コマンドを入力してください。",
}
MESSAGES |= {
    "record.worker_busy": ":hourglass: ボットを再起動しています。何も実行されていません。1 分ほどしてからもう一度お試しください。",
    "record.worker_busy_command": ":hourglass: ボットを再起動しています。`{command}` は実行されていません。1 分ほどしてから"
                                  "もう一度お試しください。",
}
MESSAGES |= {
    "record.older_version": "この `{command}` の確認は以前のバージョンのボットが作成したもので、このバージョンでは"
                            "実行できません。何も実行されていません。コマンドをもう一度入力してください。",
}
MESSAGES |= {
    "record.not_started": ":warning: ボットのデータベースが `{command}` の実行前の記録を拒否したため、何も実行されて"
                          "いません。1 分ほどしてからもう一度お試しください。",
}
