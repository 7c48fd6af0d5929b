"""The console provider: sends nothing; outgoing SMS stay in the outbox the simulator shows.

No settings but `CONSOLE_TPS`. Refused in production (it reaches nobody)."""
from __future__ import annotations

import uuid

from hotline.channels.base import Outgoing, Provider, ProviderConfig, SendResult

DEFAULT_TPS = 1000.0
"""Storing a row is not rate-limited by any operator."""


class Console(Provider):
    """For development and demos: every message 'sent' is only stored."""

    slug = "console"
    title = "Console (stores messages, sends nothing)"
    prefix = "CONSOLE_"
    default_tps = DEFAULT_TPS
    endpoints = ()

    def send(self, config: ProviderConfig, message: Outgoing, settings) -> SendResult:
        """Accept the message; the outbound row itself is the outbox."""
        return SendResult(f"console-{uuid.uuid4().hex}", "delivered")


PROVIDER = Console()
"""This module's provider (registered by hotline.channels)."""
