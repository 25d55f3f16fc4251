"""A TCP forwarder on loopback between the agent and the hub that a test can cut (open
connections dropped, new ones refused) and mend: the network failing, not the hub."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Self

from tests.live import free_socket


class Cuttable:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sock = free_socket()
        self.port = self.sock.getsockname()[1]
        self.down = False
        self.loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(5)
        return self

    def stop(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def cut(self) -> None:
        def drop() -> None:
            self.down = True
            for writer in list(self._writers):
                writer.close()

        self.loop.call_soon_threadsafe(drop)

    def mend(self) -> None:
        self.loop.call_soon_threadsafe(setattr, self, "down", False)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._connection, sock=self.sock)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()
