"""The SORACOM Slack bot: runtime, services, SORACOM client, store, security, emulator and Slack stand-in."""
