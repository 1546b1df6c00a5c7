MESSAGES = {
    "setup.payer_empty": "payer information needs at least one of company name, department or full name",
    "setup.address_missing": "a shipping address needs {fields}",
}
