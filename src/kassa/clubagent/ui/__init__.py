"""The club agent's windows (PySide6, Qt Widgets): the lock screen, the session bar, the staff
panel and the staff's messages, drawn from the core's `View` (`kassa.clubagent.model`) and
asking the core only through its `Controller`. Every word is in `texts`, in Russian and
English; `run_ui` is what the UI process runs on its main thread."""

from kassa.clubagent.ui.window import AgentWindows, run_ui

__all__ = ["AgentWindows", "run_ui"]
