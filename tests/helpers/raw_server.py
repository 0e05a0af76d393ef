"""A real HTTP server on 127.0.0.1 that sends exactly the bytes it is given, for each path.

    with RawServer() as srv:
        srv.answer("/p", b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nhi")
        srv.url("/p")

No HTTP library shapes the answer: status lines, headers, lengths and bodies
can be as wrong as a test wants (a Content-Length that lies, gzip that is not,
a chunked body that stops). Each connection gets one answer and is closed;
`RawServer(keep_alive=True)` answers every request that comes on a connection
(the answers' bytes as given, so one can carry more than its framing says) until
the client closes it or an answer says `Connection: close`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

Answer = bytes | Callable[[str], bytes] | list[bytes]  # a list: its parts 0.1 s apart

NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def http(
    status: int = 200,
    body: bytes = b"",
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    *,
    length: bool = True,
) -> bytes:
    """An answer's bytes; header values are sent as UTF-8, whatever they hold."""
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {name.lower() for name, _ in items}
    if length and "content-length" not in names and "transfer-encoding" not in names:
        items.append(("Content-Length", str(len(body))))
    items.append(("Connection", "close"))
    head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in items) + "\r\n"
    return head.encode("utf-8", "surrogateescape") + body


class RawServer:
    def __init__(self, *, keep_alive: bool = False) -> None:
        self.keep_alive = keep_alive
        self.connections = 0
        self.answers: dict[str, Answer] = {}
        self.requests: list[str] = []
        self.heads: list[bytes] = []  # each request's line and headers, as they came
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port = self._sock.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._sock.close()

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def answer(self, path: str, answer: Answer) -> None:
        self.answers[path] = answer

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        self.connections += 1
        try:
            conn.settimeout(5)
            pending = b""
            while True:
                while b"\r\n\r\n" not in pending and len(pending) < 65536:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    pending += chunk
                request, _, pending = pending.partition(b"\r\n\r\n")
                line = request.split(b"\r\n", 1)[0].decode("latin-1")
                path = line.split(" ")[1] if line.count(" ") >= 2 else "/"
                self.requests.append(path)
                self.heads.append(request)
                answer = self.answers.get(path, NOT_FOUND)
                parts = (
                    answer
                    if isinstance(answer, list)
                    else [answer(path) if callable(answer) else answer]
                )
                for i, part in enumerate(parts):
                    if i:
                        time.sleep(0.1)
                    conn.sendall(part)
                sent = b"".join(parts)
                if not self.keep_alive or b"\r\nconnection: close\r\n" in sent.lower():
                    return
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
