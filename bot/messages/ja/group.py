MESSAGES = {
    "group.not_found": "グループ `{group}` はありません。`/group list` でグループを確認し、グループ名またはグループ ID を指定してください。",
    "group.ambiguous": "`{group}` という名前のグループが複数あります ({ids})。グループ ID を指定してください。",
    "group.usage": (
        "`/group list` — すべてのグループ: 名前、ID、SIM 数\n"
        "`/group show GROUP` — グループのタグ、すべての設定ネームスペース、所属 SIM (GROUP: 名前または ID)\n"
        "`/group create NAME` — NAME という名前のグループを作成 (operator。空白を含む名前は引用符で囲む)\n"
        "`/group delete GROUP` — SIM が所属していないグループを削除 (operator。ワンタイムコードが必要)\n"
        "`/group config GROUP NAMESPACE` — 1 つの設定ネームスペースのパラメーター\n"
        "`/group config GROUP NAMESPACE KEY=VALUE… -KEY…` — パラメーターを設定、または `-KEY` で削除 "
        "(operator)。"
        "`true`/`false`、数値、`{{…}}`/`[…]` の JSON は型を保持し、`\"…\"` で囲んだ値は文字列として扱います。"
        "例: `/group config CustomerManagement UnifiedEndpoint response={{\"format\":\"SoracomHarvest\"}} enabled=true`"
    ),
    "group.show_usage": "`/group show GROUP` の形式でグループ名または ID を入力してください (例: `/group show CustomerManagement`)。",
    "group.create_usage": "`/group create NAME` の形式で入力してください (例: `/group create CustomerManagement`)。"
                          "空白を含む名前は引用符で囲みます: `/group create \"Field test\"`",
    "group.delete_usage": "`/group delete GROUP` の形式でグループ名または ID を入力してください (例: `/group delete FieldTest`)。",
    "group.config_usage": (
        "ネームスペースを表示するには `/group config GROUP NAMESPACE` と入力します。パラメーターを設定するには `KEY=VALUE…` を、"
        "削除するには `-KEY` を追加します (例: `/group config CustomerManagement SoracomAir binaryParserEnabled=false`)。"
    ),
    "group.unbalanced": "`{text}` の引用符またはかっこが閉じていません。閉じてください (例: "
                        "`response={{\"format\":\"SoracomHarvest\"}}`)。",
    "group.list_title": "*グループ* ({count} 件):",
    "group.list_none": "グループはまだありません。`/group create NAME` で作成できます。",
    "group.list_line": "• *{name}* `{group_id}` — {members}",
    "group.list_more": "…ほか {count} 件のグループは表示していません。",
    "group.members": "SIM {count} 枚",
    "group.members_unknown": "SIM 数を取得できませんでした",
    "group.unnamed": "(名前なし)",
    "group.show_title": "*グループ {name}* `{group_id}`",
    "group.field_id": "グループ ID",
    "group.field_members": "SIM",
    "group.field_tags": "タグ",
    "group.no_tags": "なし",
    "group.sample_title": "*グループ内の SIM* ({count} 枚中、先頭 {shown} 枚):",
    "group.sample_line": "• `{imsi}` {name} ({status})",
    "group.sample_more": "すべて表示するには `/sim list group:{group}` を実行してください。",
    "group.no_members": "このグループに SIM は所属していません。`/sim group TARGET {group}` で追加できます。",
    "group.configuration_title": "*設定*",
    "group.no_configuration": "設定はまだありません。`/group config {group} NAMESPACE KEY=VALUE` で設定できます。",
    "group.namespace_title": "グループ *{group}* の `{namespace}`",
    "group.namespace_empty": "グループ *{group}* の `{namespace}` にパラメーターはありません。"
                             "`/group config {group} {namespace} KEY=VALUE` で設定できます。",
    "group.parameter_line": "• `{key}` = `{value}`",
    "group.name_empty": "グループには名前が必要です。`/group create NAME` と入力してください。",
    "group.exists": "`{group}` という名前のグループはすでに存在します ({ids})。別の名前にするか、既存のグループを使用してください。",
    "group.created": ":white_check_mark: <@{user}> がグループ *{name}* `{group_id}` を作成しました。"
                     "`/sim group TARGET {name}` で SIM を追加し、`/group config {name} NAMESPACE KEY=VALUE` で設定できます。",
    "group.not_empty": "グループ `{group}` には SIM が {count} 枚所属しているため、削除しませんでした。"
                       "先に SIM をグループから外して (`/sim ungroup group:{group}`)、それから削除してください。",
    "group.delete_preview": "グループ *{name}* `{group_id}` を削除しますか? 所属する SIM はありません。タグと設定 "
                            "({namespaces} 個のネームスペース) は失われます。",
    "group.delete_confirm": "グループを削除",
    "group.deleted": ":wastebasket: <@{user}> がグループ *{name}* `{group_id}` を削除しました。",
    "group.bad_namespace": "`{namespace}` は設定ネームスペースではありません。有効なネームスペース: {valid}",
    "group.bad_parameter": "`{token}` はパラメーターではありません。設定するには `KEY=VALUE`、削除するには `-KEY` と入力してください。",
    "group.bad_json": "`{key}` の値 `{value}` は有効な JSON ではありません ({column} 文字目で {error})。"
                      "何も変更していません。JSON を修正してください (例: `{key}={{\"format\":\"SoracomHarvest\"}}`)。",
    "group.set_and_remove": "{keys}: 同じコマンドで設定と削除が指定されています。どちらか一方にしてください。",
    "group.value_too_large": "`{key}` の値は {size:,} バイトです。1 つのパラメーターに入るのは {limit:,} バイトまでです。"
                             "何も変更していません。複数のパラメーターに分けるか、SORACOM ユーザーコンソールで設定してください。",
    "group.json_too_deep": "`{key}` の値の入れ子は {depth:,} 段です。受け付けるのは {limit} 段までです。"
                           "何も変更していません。JSON を浅くしてください (例: `{key}={{\"a\":{{\"b\":1}}}}`)。",
    "group.not_removable": "SORACOM では `{namespace}` のパラメーターを個別に削除できません。代わりに新しい値を設定してください。",
    "group.no_parameter": "グループ `{group}` の `{namespace}` にパラメーター {keys} はないため、何も削除していません。"
                          "パラメーターは `/group config {group} {namespace}` で確認できます。",
    "group.configured": ":gear: <@{user}> がグループ *{name}* の `{namespace}` を変更しました: {changes}",
    "group.configured_set": "{pairs} を設定",
    "group.configured_removed": "{keys} を削除",
}
