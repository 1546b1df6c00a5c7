"""Encryption of secrets at rest (TOTP secrets) with Fernet, and keyed digests of what must be found again but not
read back (a remote access endpoint)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secret.key"


class SecretBox:
    def __init__(self, key: str | bytes) -> None:
        fernet_key = _fernet_key(key)
        self._fernet = Fernet(fernet_key)
        # A key of its own for digests, so that no digest is ever made with the encryption key itself.
        self._digest_key = hmac.new(fernet_key, b"soracom-bot digest key", hashlib.sha256).digest()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("stored secret cannot be decrypted with BOT_SECRET_KEY (was the key changed?)") from None

    def digest(self, purpose: str, message: str) -> str:
        """HMAC-SHA256 (hex): equal for equal messages, and without BOT_SECRET_KEY no guess can be checked against
        it, however small the space of messages."""
        return hmac.new(self._digest_key, f"{purpose}\x00{message}".encode(), hashlib.sha256).hexdigest()


def _fernet_key(key: str | bytes) -> bytes:
    raw = key.encode() if isinstance(key, str) else key
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw
    except (ValueError, TypeError):
        pass
    # Any other passphrase: derive a 32-byte key so operators can use a plain random string.
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())


def make_private_dir(path: Path) -> None:
    """The data folder holds the key with which stored TOTP secrets decrypt: the bot's user alone may enter it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


def load_or_create_key(configured: str | None, data_dir: Path) -> str:
    """BOT_SECRET_KEY, or a key generated once into the data folder (0700) with mode 0600."""
    if configured:
        return configured
    make_private_dir(data_dir)
    path = data_dir / KEY_FILE
    if path.exists():
        os.chmod(path, 0o600)  # a copied or restored key file may have come back readable by others
        return path.read_text().strip()
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
