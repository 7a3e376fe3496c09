"""A real SMTP server for alert tests: the `smtp_server` fixture and the handler it records with.

aiosmtpd 1.4 cannot bind port 0 (aio-libs/aiosmtpd#388), so the fixture asks the OS for a free
port, releases it and starts the Controller there, retrying on the rare collision.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alerts_testkit import RecordingHandler, SmtpServer, free_port


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A started server whose handler keeps every envelope; `reject` sets per-recipient replies."""
    last: Exception | None = None
    for _ in range(5):
        server = SmtpServer(RecordingHandler(), free_port())
        try:
            server.start()
        except (OSError, RuntimeError) as exc:     # another process took the port meanwhile
            last = exc
            continue
        try:
            yield server
        finally:
            server.stop()
        return
    raise RuntimeError(f"could not start an SMTP server on a free port: {last}")
