MESSAGES = {
    "setup.payer_empty": "支払者情報には、会社名・部署名・氏名のうち少なくとも 1 つが必要です",
    "setup.address_missing": "配送先には {fields} が必要です",
}
