"""The top-up's QR code, drawn by segno into a pixmap (dark on white, as phones read best)."""

from __future__ import annotations

import io

import segno
from PySide6.QtGui import QPixmap


def qr_pixmap(data: str, *, scale: int = 6) -> QPixmap:
    """`data` as a QR code of `scale` pixels a module, with the standard quiet border."""
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="png", scale=scale, border=4)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap
