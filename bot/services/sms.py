"""An SMS to a device: GSM 7-bit when every character is in the GSM alphabet (160 of them, the extension table's
counting two), else UCS-2 (70); longer text is refused before anything is sent, and a send is never repeated."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.services.errors import InputError, WriteUnconfirmed, service
from bot.soracom import SoracomClient, SoracomError

SMS_LIMITS = {1: 160, 2: 70}  # encodingType → characters (GSM 7-bit, UCS-2)
# GSM 03.38: the default alphabet, and its extension table, whose characters take two of the 160.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Sms:
    text: str
    encoding: int  # 1 GSM 7-bit, 2 UCS-2
    length: int  # in the encoding's characters (a GSM extension character counts 2)
    limit: int

    @property
    def digest(self) -> str:
        """What the audit keeps instead of the text, which may carry a device command or a secret."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def gsm_length(text: str) -> int | None:
    """Characters the text takes in GSM 7-bit (extension characters 2); None when one is outside the alphabet."""
    total = 0
    for char in text:
        if char in GSM_BASIC:
            total += 1
        elif char in GSM_EXTENDED:
            total += 2
        else:
            return None
    return total


def check_sms(text: str) -> Sms:
    """GSM 7-bit when every character is in its alphabet, else UCS-2; InputError past the encoding's limit."""
    if not text:
        raise InputError("devices.sms_empty")
    gsm = gsm_length(text)
    # UCS-2 counts UTF-16 code units: a character outside the BMP (an emoji) takes two.
    encoding, length = (1, gsm) if gsm is not None else (2, len(text.encode("utf-16-le")) // 2)
    sms = Sms(text, encoding, length, SMS_LIMITS[encoding])
    if length > sms.limit:
        raise InputError(f"devices.sms_too_long_{encoding}", length=length, limit=sms.limit)
    return sms


@service
async def send_sms(client: SoracomClient, imsi: str, sms: Sms) -> str:
    """The message ID SORACOM gave; never repeated on an ambiguous failure (the device would get it twice)."""
    try:
        return (await client.send_sms(imsi, sms.text, sms.encoding)).messageId or ""
    except SoracomError as exc:
        if exc.ambiguous:
            raise WriteUnconfirmed(imsi, None, exc.message) from None
        raise
