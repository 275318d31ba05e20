"""
Local servers for the demo, the scripts and the tests: a free TCP port on loopback, and the aiosmtpd
handler that catches the DAGs' e-mails (aiosmtpd is a dev dependency, imported by whoever starts the
server).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import os


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MailCatcher:
    """
    aiosmtpd handler that keeps the messages it receives (the local SMTP server of demos and tests).

    :param folder: also save each message there as ``<UTC time>-<random>.eml`` (the raw message as
        received, names sort by arrival), so people and pages can read the mails after the catcher stops.
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.messages: list[Any] = []
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        if self.folder is not None:
            self._save(envelope.content)
        return "250 Message accepted for delivery"

    def _save(self, content: bytes) -> str:
        import uuid
        from datetime import UTC, datetime
        from pathlib import Path

        folder = Path(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}.eml"
        # Written under a dot name, then renamed: a reader never sees half a message.
        partial = folder / f".{name}.part"
        partial.write_bytes(content)
        partial.replace(folder / name)
        return str(folder / name)
