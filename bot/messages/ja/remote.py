MESSAGES = {
    "remote.usage_open": "`/sim remote TARGET PORT [DURATION] [from CIDR…] [tls]` と入力してください (例: "
                         "`/sim remote sensor-01 22 30m from 203.0.113.0/24`)。`/sim remote list`、"
                         "`/sim remote close TARGET` も使えます。",
    "remote.usage_close": "`/sim remote close TARGET` と入力してください (例: `/sim remote close sensor-01`)。",
    "remote.bad_port": "`{value}` はポート番号ではありません。デバイスのポート (1〜65535、例: `22`) を入力してください。",
    "remote.bad_duration": "`{value}` は期間ではありません。`30m`、`2h`、`90s`、`1h30m` のように入力してください。",
    "remote.too_long": "`{value}` はこのボットで開ける時間 ({limit}) より長いです。`30m` など短い期間を入力してください。",
    "remote.bad_source": "`{value}` はアドレス範囲ではありません ({detail})。`203.0.113.0/24` のような CIDR か、"
                         "`203.0.113.7` のようなアドレスを入力してください。",
    "remote.from_empty": "`from` の後にアドレス範囲を 1 つ以上入力してください (例: `from 203.0.113.0/24`)。",
    "remote.unknown_word": "`{word}` は解釈できません。`/sim remote TARGET PORT [DURATION] [from CIDR…] [tls]` "
                           "と入力してください。",
    "remote.too_many_sources": "アドレス範囲 {count} 個は多すぎます (最大 {limit} 個)。",
    "remote.no_sources": "接続元を指定してください。既定の範囲 (`BOT_REMOTE_SOURCES`) が設定されていません。"
                         "`/sim remote {target} {port} from あなたのアドレス` (例: `from 203.0.113.7`、"
                         "`from 203.0.113.0/24`) と入力してください。",
    "remote.wide_needs_admin": "`{source}` は /16 より広い範囲です。これほど多くのアドレスへのリモートアクセスは"
                               "管理者 (admin) だけが開けます (あなたは {role})。自分のアドレスなど狭い範囲を入力してください。",
    "remote.one_sim": "リモートアクセスは 1 枚の SIM に対して開きます。`{target}` は {count} 枚を指しています。",
    "remote.already_open": "{name} のポート {port} へのリモートアクセスは {until} まで開いています。"
                           "`/sim remote close {imsi}` で閉じられます。",
    "remote.preview_title": "{name} (`{imsi}`) へのリモートアクセスを開きますか?",
    "remote.preview": "*SIM:* {name} (`{imsi}`)\n*デバイスのポート:* {port}\n*期間:* {duration}\n"
                      "*接続元:* {sources}\n*TLS:* {tls}",
    "remote.preview_note": "接続先アドレスはあなただけに届きます。チャンネルには、誰がどの SIM とポートを、どこから"
                           "いつまで開いたかが通知されます。期限か `/sim remote close` で閉じます。",
    "remote.tls_on": "あり (SORACOM まで TLS)",
    "remote.tls_off": "なし",
    "remote.defaults_note": "(既定の範囲 `BOT_REMOTE_SOURCES`)",
    "remote.opened_summary": "{name} のポート {port} へのリモートアクセスを {until} まで開きました。"
                             "接続先はあなただけに送りました。",
    "remote.endpoint": "*{name} (`{imsi}`) のポート {port} へのリモートアクセス* ({until} まで)。あなた専用です。"
                       "共有しないでください。\nアドレス: `{address}:{endpoint_port}`\nホスト: `{hostname}`",
    "remote.endpoint_ssh": "接続: `{command}`",
    "remote.endpoint_link": "開く: {link}",
    "remote.endpoint_gone": "SORACOM にこのアクセスはもうありません (期限切れの可能性があります)。",
    "remote.endpoint_undelivered": "リモートアクセスは開きましたが、接続先をあなただけに送れませんでした。"
                                   "`/sim remote list` で確認できます。",
    "remote.notice": ":unlock: <@{user}> が *{name}* (`{imsi}`) のポート {port} へのリモートアクセスを開きました。"
                     "接続元 {sources}、{until} まで。",
    "remote.notice_closed": ":lock: ~*{name}* (`{imsi}`) のポート {port} へのリモートアクセス (接続元 {sources})~ "
                            "{when} に <@{user}> が閉じました。",
    "remote.notice_expired": ":lock: ~*{name}* (`{imsi}`) のポート {port} へのリモートアクセス (接続元 {sources})~ "
                             "{when} に期限切れで閉じました。",
    "remote.told_closed": "{name} (`{imsi}`) のポート {port} へのあなたのリモートアクセスは {when} に <@{user}> "
                          "が閉じました。",
    "remote.told_expired": "{name} (`{imsi}`) のポート {port} へのあなたのリモートアクセスは {when} に期限切れで"
                           "閉じました。",
    "remote.closed_reply": "{name} (`{imsi}`) のポート {port} へのリモートアクセスを閉じました。",
    "remote.closing_elsewhere": "{name} のポート {port} へのリモートアクセスは既に閉じる処理中です。",
    "remote.none_open": "{target} へのリモートアクセスは開いていません。",
    "remote.not_yours": "{name} のポート {port} へのリモートアクセスは <@{opener}> が開いたものです。閉じられるのは"
                        "本人、operator、admin だけです (あなたは {role})。",
    "remote.list_title": "開いているリモートアクセス",
    "remote.list_empty": "開いているリモートアクセスはありません。",
    "remote.list_item": "*{name}* (`{imsi}`) ポート {port} — <@{user}>、接続元 {sources}、{until} まで",
    "remote.list_yours": "あなたの接続先: `{address}:{endpoint_port}` (`{hostname}`)",
    "remote.open_failed": "SORACOM は {name} のポート {port} へのリモートアクセスを開きませんでした: {reason}",
}
