"""The console provider: sends nothing; outgoing SMS stay in the outbox the simulator shows."""
from __future__ import annotations

import uuid

from hotline.channels.base import Provider, SendResult


class Console(Provider):
    """For development and demos: every message 'sent' is only stored."""

    slug = "console"
    endpoints = ()

    def send(self, settings, to: str, body: str, status_callback: str | None = None) -> SendResult:
        """Accept the message; the outbound row itself is the outbox."""
        return SendResult(f"console-{uuid.uuid4().hex}", "delivered")


PROVIDER = Console()
