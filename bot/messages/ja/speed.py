MESSAGES = {
    "speed.one_class": "{plan} の速度クラスは 1 つだけのため、{sims} の速度は変更できません。そのままにしています。",
}
