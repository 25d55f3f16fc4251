"""The windows' calm dark theme: one style sheet, its colours named once.

Widgets choose their look by object name (`card`, `title`, `error`, …) or by the `role`
property, so the Python code says what a thing is and this sheet alone says how it looks.
"""

from __future__ import annotations

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
QWidget {{ background: {BACKGROUND}; color: {TEXT}; font-size: 15px; }}
QFrame#card {{ background: {CARD}; border: 1px solid {BORDER}; border-radius: 14px; }}
QFrame#card QWidget {{ background: transparent; }}
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
QLineEdit, QSpinBox {{
    background: {BACKGROUND}; border: 1px solid {BORDER}; border-radius: 8px;
    padding: 8px 10px; selection-background-color: {ACCENT};
}}
QLineEdit:focus, QSpinBox:focus {{ border-color: {ACCENT}; }}
QPushButton {{
    background: #252c38; border: 1px solid {BORDER}; border-radius: 8px; padding: 9px 16px;
}}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton:checked {{ background: #22324f; border-color: {ACCENT}; }}
QPushButton:disabled {{ color: {MUTED}; }}
QPushButton[role="primary"] {{ background: {ACCENT}; border-color: {ACCENT}; color: white; }}
QPushButton[role="primary"]:disabled {{ background: #2b3a57; border-color: #2b3a57; }}
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
