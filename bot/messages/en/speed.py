MESSAGES = {
    "speed.one_class": "{plan} offers one speed class, so {sims} cannot be slowed down; they are left as they are.",
}
