MESSAGES = {
    "record.pending": ":warning: `{command}` は SORACOM で実行されましたが、ボットのデータベースが監査記録の書き込みを"
                      "拒否しました。記録は保管されており、データベースが復旧しだい書き込まれます (その後 "
                      "`/soracom audit` で確認できます)。追加の操作は不要です。",
}
