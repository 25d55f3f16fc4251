"""QR codes as PNG images, for a chat (`sendPhoto`): a buyer scans their access link with
their VPN app's camera instead of copying it."""

from __future__ import annotations

import io

import segno

#: Pixels per module and the quiet zone in modules (the standard's 4): about 300 px across
#: for a subscription URL, which Telegram shows without scaling it up.
SCALE = 8
BORDER = 4


def png(payload: str) -> bytes:
    """`payload` as a QR code (error correction M, as the payer's page draws them)."""
    code = segno.make(payload, error="m", micro=False)
    image = io.BytesIO()
    code.save(image, kind="png", scale=SCALE, border=BORDER)
    return image.getvalue()
