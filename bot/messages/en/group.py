MESSAGES = {
    "group.not_found": "There is no group `{group}`. `/group list` shows the groups; give a name or a group ID.",
    "group.ambiguous": "Several groups are named `{group}` ({ids}). Give the group ID instead.",
}
