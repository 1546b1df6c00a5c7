"""The one-time MFA enrollment page: the otpauth URI as a QR code (inline SVG) and as text."""

from __future__ import annotations

import base64
import hashlib
import html
from urllib.parse import parse_qs, urlparse

import segno

STYLE = "body { font-family: sans-serif; max-width: 32em; margin: 2em auto }"
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()

# Nothing loads or runs: the QR code is inline SVG markup (no fetch), the one style block is allowed by its hash.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


def qr_svg(uri: str) -> str:
    return segno.make(uri, error="m").svg_inline(scale=6, border=2)


def secret_of(uri: str) -> str:
    return parse_qs(urlparse(uri).query).get("secret", [""])[0]


def _document(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>{title}</title><style>{STYLE}</style></head>
<body>
{body}
</body></html>"""


def page(uri: str) -> str:
    secret = secret_of(uri)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return _document("SORACOM Bot – MFA enrollment", f"""<h1>Add SORACOM Bot to your authenticator</h1>
<p>Scan this code with Google Authenticator, 1Password, Authy or any TOTP app.</p>
{qr_svg(uri)}
<p>Or type the key by hand: <code>{html.escape(grouped)}</code> (time-based, 6 digits, 30 seconds).</p>
<p>Then confirm in Slack with <code>/mfa verify CODE</code>. This page works once; reloading it shows nothing.</p>""")


def gone() -> str:
    return _document("Link used", """<h1>This link has been used or has expired</h1>
<p>Enrollment links work once, for 10 minutes, and only for the latest <code>/mfa enroll</code>.
Run <code>/mfa enroll</code> in Slack for a new one.</p>""")
