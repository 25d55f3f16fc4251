"""Stopping a long-running command (`kassa worker`, `kassa bot`) on SIGTERM or Ctrl-C: the
first signal asks it to finish what it has in hand, a second one stops it at once."""

from __future__ import annotations

import asyncio
import logging
import signal

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals(what: str) -> asyncio.Event:
    """An event set by the first SIGTERM or SIGINT; call it inside the running loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: signal.Signals) -> None:
        log.info("%s: stopping after %s (send it again to stop now)", signum.name, what)
        stop.set()
        for each in STOP_SIGNALS:
            loop.remove_signal_handler(each)  # so the next one has its usual effect

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    return stop
