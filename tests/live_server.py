"""A real uvicorn server for the service's tests, on a free loopback port, in a thread.

The socket is bound first, so a test knows the server's URL before it builds the app (an app that needs its
own public URL): `LiveServer().serve(app)`; or `LiveServer(app).start()`."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class LiveServer:
    def __init__(self, app: Any | None = None) -> None:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on such sockets (else +40 ms a request).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._app = app
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def serve(self, app: Any) -> LiveServer:
        self._app = app
        return self.start()

    def start(self) -> LiveServer:
        config = uvicorn.Config(self._app, log_config=None, lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def request_stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(10)
        self._socket.close()

    def stop(self) -> None:
        self.request_stop()
        self.join()
