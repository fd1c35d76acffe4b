"""The tests' own HTTP server behaves as a real one where the tests depend on it."""

from __future__ import annotations

import socket

from tests.daemon_support import Hook
from tests.webserver import LocalWeb


def test_a_request_cut_off_before_its_body_ends_is_not_served(web: LocalWeb) -> None:
    # A daemon killed between writing a POST's headers and its body leaves exactly this on
    # the wire. A real receiver drops it; counting it as a badly signed delivery would blame
    # the daemon for its own death.
    hook = Hook(web)
    body = b'{"story_id": "1"}'
    head = (
        f"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        "X-Signature: sha256=0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", web.port)) as sock:
        sock.sendall(head.encode() + body[:5])
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1024) == b""  # closed without an answer
    assert hook.bad_signatures == 0
    assert hook.accepted == []
    assert web.log == []
