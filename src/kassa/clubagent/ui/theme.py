"""The windows' calm dark theme: one style sheet, its colours named once.

The windows' own background comes from the palette (a style sheet's `QWidget` background
would win over every button's). Widgets choose their look by object name (`card`, `error`,
…) or by the `role` property, so the Python code says what a thing is and this sheet alone
says how it looks.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#11141a"
CARD = "#1a1f28"
BORDER = "#2a3140"
TEXT = "#e6e9ef"
MUTED = "#8c95a6"
ACCENT = "#4f8cff"
WARNING = "#f2b233"
DANGER = "#e5534b"
SUCCESS = "#3fb97f"

STYLE = f"""
QWidget {{ color: {TEXT}; font-size: 15px; }}
QFrame#card {{ background: {CARD}; border: 1px solid {BORDER}; border-radius: 14px; }}
QLabel#clubName {{ font-size: 38px; font-weight: 600; }}
QLabel#alias {{ font-size: 20px; color: {MUTED}; }}
QLabel#heading {{ font-size: 20px; font-weight: 600; }}
QLabel#muted {{ color: {MUTED}; }}
QLabel#error {{ color: {DANGER}; }}
QLabel#success {{ color: {SUCCESS}; font-weight: 600; }}
QLabel#big {{ font-size: 22px; font-weight: 600; }}
QLabel#offline {{
    background: {DANGER}; color: white; font-size: 20px; font-weight: 600;
    padding: 12px; border-radius: 10px;
}}
QLabel#notice {{
    background: {CARD}; color: {WARNING}; border: 1px solid {WARNING};
    font-size: 17px; padding: 10px; border-radius: 10px;
}}
QLabel#clock {{ font-size: 30px; font-weight: 700; font-family: monospace; }}
QLabel#warning {{
    background: {WARNING}; color: #1a1300; font-weight: 700; padding: 6px 12px;
    border-radius: 8px;
}}
QLineEdit {{
    background: {BACKGROUND}; border: 1px solid {BORDER}; border-radius: 8px;
    padding: 8px 10px; selection-background-color: {ACCENT};
}}
QLineEdit:focus {{ border-color: {ACCENT}; }}
QPushButton {{
    background: #252c38; border: 1px solid {BORDER}; border-radius: 8px; padding: 9px 16px;
}}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton:checked {{ background: #22324f; border-color: {ACCENT}; }}
QPushButton:disabled {{ color: {MUTED}; }}
QPushButton[role="primary"] {{ background: {ACCENT}; border-color: {ACCENT}; color: white; }}
QPushButton[role="primary"]:disabled {{ background: #2b3a57; border-color: #2b3a57; }}
QPushButton[role="step"] {{ padding: 9px 0; min-width: 40px; font-weight: 700; }}
QPushButton[role="danger"] {{ background: #5a2422; border-color: {DANGER}; }}
QListWidget {{ background: transparent; border: none; outline: none; }}
QListWidget::item {{
    background: #212733; border: 1px solid {BORDER}; border-radius: 8px;
    padding: 10px; margin: 3px 0;
}}
QListWidget::item:selected {{ background: #22324f; border-color: {ACCENT}; color: {TEXT}; }}
QListWidget::item:disabled {{ color: #5d6575; }}
QTabWidget::pane {{ border: none; }}
QTabBar::tab {{ background: {CARD}; padding: 6px 16px; border-radius: 6px; margin-right: 4px; }}
QTabBar::tab:selected {{ background: #22324f; }}
QDialog {{ border: 2px solid {ACCENT}; border-radius: 12px; }}
"""


def apply(app: QApplication) -> None:
    """Dress `app` in the theme: the dark palette under the style sheet."""
    palette = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, BACKGROUND),
        (QPalette.ColorRole.Base, BACKGROUND),
        (QPalette.ColorRole.WindowText, TEXT),
        (QPalette.ColorRole.Text, TEXT),
        (QPalette.ColorRole.ButtonText, TEXT),
        (QPalette.ColorRole.Button, CARD),
        (QPalette.ColorRole.PlaceholderText, MUTED),
        (QPalette.ColorRole.Highlight, ACCENT),
    ):
        palette.setColor(role, QColor(colour))
    app.setPalette(palette)
    app.setStyleSheet(STYLE)
