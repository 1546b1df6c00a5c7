MESSAGES = {
    "sim.usage": (
        "`/sim list [SELECTOR…]` — SIM 一覧: ステータス別の枚数と、ページごとの一覧 (IMSI、名前、ステータス、オンライン、グループ、速度クラス)\n"
        "`/sim show TARGET` — 1 枚の SIM の詳細と今月の通信量\n"
        "`/sim activate|standby TARGET…` — ステータスの変更 (使用開始 / 利用開始待ちに変更)\n"
        "`/sim deactivate|suspend|terminate TARGET…` — ステータスの変更 (休止 / 利用中断 / 解約。ワンタイムコードが必要)\n"
        "`/sim tag TARGET KEY=VALUE…` — タグを設定\n"
        "`/sim untag TARGET KEY…` — タグを削除\n"
        "`/sim group TARGET GROUP` — SIM をグループに所属させる (グループ名または ID)\n"
        "`/sim ungroup TARGET…` — SIM をグループから外す\n"
        "`/sim imei-lock TARGET IMEI` — 1 枚の SIM をデバイスに IMEI ロック (15 桁の IMEI)\n"
        "`/sim imei-unlock TARGET…` — IMEI ロックを解除 (ワンタイムコードが必要)\n"
        "`/sim speed TARGET CLASS` — 速度クラスを変更 (例: `s1.fast`)\n"
        "`/sim diagnose TARGET` — デバイスが静かな理由: セッション、場所、ステータス履歴、24 時間の通信量、"
        "SORACOM の診断と次の一手\n"
        "`/sim ping TARGET` — ダウンリンクの疎通確認 (往復時間、損失)\n"
        "`/sim reconnect TARGET` — データセッションを切ってデバイスに再接続させる\n"
        "`/sim sms TARGET TEXT` — デバイスに SMS (GSM 文字で 160 文字、それ以外を含むと 70 文字まで)\n"
        "`/sim remote TARGET PORT [DURATION] [from CIDR…] [tls]` — デバイスへのリモートアクセス (SORACOM のオンデマンドリモートアクセス、"
        "MFA コードが必要)。`/sim remote list`、`/sim remote close TARGET`\n"
        "TARGET: IMSI (15 桁)、SIM 名 (`name` タグ)、またはセレクター `tag:KEY=VALUE`、`group:NAME`、"
        "`status:STATUS` (組み合わせ可)。複数の SIM やセレクターを指定した場合は、まずプレビューを表示して確認を求めます。"
    ),
    "sim.usage_tag": "`/sim tag TARGET KEY=VALUE…` の形式で入力してください (例: `/sim tag sensor-01 site=osaka`)。",
    "sim.usage_untag": "`/sim untag TARGET KEY…` の形式で入力してください (例: `/sim untag sensor-01 site`)。",
    "sim.usage_group": "`/sim group TARGET GROUP` の形式で入力してください (例: `/sim group sensor-01 FieldTest`。グループ名または ID)。",
    "sim.usage_imei_lock": "`/sim imei-lock TARGET IMEI` の形式で入力してください (例: `/sim imei-lock sensor-01 353456789012345`)。",
    "sim.usage_speed": "`/sim speed TARGET CLASS` の形式で入力してください (例: `/sim speed sensor-01 s1.fast`)。",
    # Targets
    "sim.no_target": "対象の SIM を指定してください: IMSI (15 桁)、SIM 名、または `status:active` のようなセレクター。",
    "sim.mixed_targets": "SIM (IMSI、名前) とセレクター (`tag:`、`group:`、`status:`) は同時に指定できません。どちらか一方を指定してください。",
    "sim.bad_imsi": "`{value}` は IMSI ではありません。IMSI は 15 桁です (指定された値は {length} 桁)。IMSI は `/sim list` で確認できます。",
    "sim.not_found": "IMSI `{imsi}` の SIM はありません。SIM は `/sim list` で確認できます。",
    "sim.unknown_name": "`{name}` という名前の SIM はありません。IMSI を指定するか、`/sim list` で名前を確認してください。",
    "sim.ambiguous_name": "`{name}` という名前の SIM が {count} 枚あります: {matches}。何も実行していません。IMSI を指定してください。",
    "sim.ambiguous_more": "ほか {count} 枚",
    "sim.protection_not_restored": "{error}。解約プロテクションを ON に戻せませんでした ({restore_error})",
    "sim.unexpected_error": "予期しないエラー ({kind})",
    "sim.nothing_selected": "`{selector}` に一致する SIM はありません。何も実行していません。`/sim list {selector}` でも同じ結果になります。",
    "sim.bad_tag_selector": "`{token}` はタグのセレクターではありません。`tag:KEY=VALUE` の形式で入力してください (例: `tag:site=osaka`)。",
    "sim.conflicting_tags": "タグ `{key}` に異なる 2 つの値が指定されています。SIM が持てる値は 1 つです。1 回だけ指定してください。",
    "sim.bad_group_selector": "`{token}` はグループを指定していません。`group:NAME` (または `group:GROUP_ID`) の形式で入力してください。",
    "sim.one_group": "SIM が所属できるグループは 1 つだけです。`group:` セレクターは 1 つだけ指定してください ({groups} ではなく)。",
    "sim.bad_status": "`{status}` は SIM のステータスではありません。ステータス: {statuses}",
    "sim.list_selector_only": "`/sim list` に指定できるのはセレクターのみです: `tag:KEY=VALUE`、`group:NAME`、`status:STATUS`。"
                              "1 枚の SIM を表示するには `/sim show TARGET` と入力してください。",
    "sim.show_one": "この指定では {count} 枚の SIM が選択されますが、`/sim show` で表示できるのは 1 枚です。IMSI または名前を指定するか、`/sim list` を使用してください。",
    "sim.one_sim_only": "「{what}」は一度に 1 枚の SIM のみが対象ですが、この指定では {count} 枚が選択されます。IMSI または名前を 1 つ指定してください。",
    # Arguments
    "sim.tag_missing": "タグを KEY=VALUE の形式で 1 つ以上指定してください (例: `site=osaka`)。",
    "sim.bad_tag": "`{token}` はタグではありません。KEY=VALUE の形式で入力してください (例: `site=osaka`。`=` が必要です)。",
    "sim.bad_imei": "`{value}` は IMEI ではありません。IMEI は 15 桁です (例: `353456789012345`)。",
    "sim.bad_speed": "`{value}` は速度クラスではありません。速度クラス: {classes}",
    # List
    "sim.list_title": "*SIM {total} 枚*{where}: {counts}",
    "sim.list_where": " (`{selector}` に一致)",
    "sim.list_row": "{icon} `{imsi}` {name} · {status} · {online} · {group} · {speed}",
    "sim.list_range": "SIM {total} 枚中 {first}〜{last} 枚目",
    "sim.list_snapshot_hint": "フリートのスナップショットによる表示です。*更新* で SORACOM から読み直します。",
    "sim.list_empty": "表示する SIM はありません。",
    "sim.unnamed": "_(名前なし)_",
    "sim.no_group": "グループなし",
    "sim.online": ":signal_strength: オンライン",
    "sim.offline": "オフライン",
    "sim.no_session": "接続履歴なし",
    "sim.next": "次へ",
    "sim.previous": "前へ",
    # Show
    "sim.show_title": "*SIM {name}* `{imsi}`",
    "sim.f_status": "ステータス",
    "sim.f_imsi": "IMSI",
    "sim.f_iccid": "ICCID",
    "sim.f_msisdn": "MSISDN",
    "sim.f_plan": "サブスクリプション",
    "sim.f_speed": "速度クラス",
    "sim.f_group": "グループ",
    "sim.f_imei_lock": "IMEI ロック",
    "sim.f_protection": "解約プロテクション",
    "sim.f_expiry": "有効期限",
    "sim.f_session": "セッション",
    "sim.f_session_imei": "デバイスの IMEI",
    "sim.f_location": "位置",
    "sim.f_traffic": "今月の通信量",
    "sim.f_tags": "タグ",
    "sim.on": "ON",
    "sim.off": "OFF",
    "sim.no_expiry": "なし",
    "sim.expiry": "{when} (期限後のアクション: `{action}`)",
    "sim.session": "{state}、最終確認 {seen}",
    "sim.traffic": "↑ {up} · ↓ {down} ({month}、UTC)",
    "sim.no_traffic": "取得できません",
    # Changes
    "sim.what.activate": "使用開始",
    "sim.what.standby": "利用開始待ちに変更",
    "sim.what.deactivate": "休止",
    "sim.what.suspend": "利用中断",
    "sim.what.terminate": "解約",
    "sim.what.tag": "タグを設定 {tags}",
    "sim.what.untag": "タグを削除 {keys}",
    "sim.what.group": "グループ `{group}` に所属",
    "sim.what.ungroup": "グループから外す",
    "sim.what.imei-lock": "IMEI `{imei}` にロック",
    "sim.what.imei-unlock": "IMEI ロックを解除",
    "sim.what.speed": "速度クラスを `{speed}` に変更",
    "sim.preview_title": "*{what}* — SIM {count} 枚: `{selection}`",
    "sim.preview_line": "• {sim} — {status}",
    "sim.preview_more": "…ほか {count} 枚",
    "sim.caution.final": ":warning: *解約は取り消せません*。解約した SIM は再利用できません。",
    "sim.caution.protection_on": ":shield: {total} 枚中 {count} 枚は解約プロテクションが *ON* です。解約の直前に OFF にし、"
                                 "解約に失敗した場合は ON に戻します。",
    "sim.caution.protection_off": ":unlock: {total} 枚中 {count} 枚は解約プロテクションが *OFF* です。",
    "sim.caution.reactivation_fee": ":moneybag: {total} 枚中 {count} 枚は `suspended` (利用中断中) です。`suspended` から"
                                    "ステータスを変更すると、SIM ごとに利用再開の料金が発生します。",
    "sim.caution.still_billed": ":moneybag: `inactive` (休止中) の SIM にも料金が発生します。基本料金はかかり続けます。",
    "sim.caution.terminated": ":x: {total} 枚中 {count} 枚はすでに解約済みです。変更できないため、"
                              "失敗として報告します。",
    "sim.progress": "{what}: SIM {total} 枚、{percent} % — 完了 {done}、失敗 {failed}、残り {left}",
    "sim.progress_title": ":hourglass_flowing_sand: *{what}* — SIM {total} 枚、<@{user}> が開始",
    "sim.progress_bar": "`{bar}` {percent} %\n完了 *{done}* · 失敗 *{failed}* · 残り *{left}*",
    "sim.report_ok": ":white_check_mark: *{what}* — SIM {total} 枚すべて完了 ({seconds} 秒、<@{user}> が開始)。",
    "sim.report_failed": ":warning: *{what}* — SIM {total} 枚中 {done} 枚完了、*{failed} 枚失敗* ({seconds} 秒、"
                         "<@{user}> が開始)。失敗した SIM (理由別):",
    "sim.report_reason": "*{reason}* ({count} 枚):",
    "sim.report_reason_more": "(続き)",
    "sim.report_truncated": "失敗が多すぎて 1 つのメッセージに収まりません。各失敗は `/soracom audit` で確認できます。",
    "sim.was": " (変更前: {status})",
    "sim.done_one": ":white_check_mark: *{what}* — {sim}{was} (<@{user}> が実行)。",
    "sim.failed_one": ":warning: *{what}* — {sim} は失敗しました: {reason}",
    # SIM statuses as SORACOM names them (selectors keep the English word: `status:active`)
    "sim.status.ready": "準備完了",
    "sim.status.active": "使用中",
    "sim.status.inactive": "休止中",
    "sim.status.standby": "利用開始待ち",
    "sim.status.suspended": "利用中断中",
    "sim.status.terminated": "解約済み",
    "sim.status.instock": "在庫",
    "sim.status.shipped": "出荷済み",
    "sim.status.banned": "利用停止",
}
