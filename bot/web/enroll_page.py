"""The one-time MFA enrollment page: the otpauth URI as a QR code (inline SVG) and as text."""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlparse

import segno


def qr_svg(uri: str) -> str:
    return segno.make(uri, error="m").svg_inline(scale=6, border=2)


def secret_of(uri: str) -> str:
    return parse_qs(urlparse(uri).query).get("secret", [""])[0]


def page(uri: str) -> str:
    secret = secret_of(uri)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>SORACOM Bot – MFA enrollment</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 2em auto">
<h1>Add SORACOM Bot to your authenticator</h1>
<p>Scan this code with Google Authenticator, 1Password, Authy or any TOTP app.</p>
{qr_svg(uri)}
<p>Or type the key by hand: <code>{html.escape(grouped)}</code> (time-based, 6 digits, 30 seconds).</p>
<p>Then confirm in Slack with <code>/mfa verify CODE</code>. This page works once; reloading it shows nothing.</p>
</body></html>"""


def gone() -> str:
    return """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Link used</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 2em auto"><h1>This link has been used or has expired</h1>
<p>Enrollment links work once, for 10 minutes. Run <code>/mfa enroll</code> in Slack for a new one.</p></body></html>"""
