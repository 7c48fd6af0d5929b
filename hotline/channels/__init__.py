"""Provider modules behind one interface, registered in one explicit list.

Adding a provider: write one module with a `PROVIDER` (a `base.Provider`: its settings, webhooks,
status tables and send) and add it to `_MODULES`. A second registration of the same slug fails
loudly. Nothing outside this package names a provider.
"""
from __future__ import annotations

from typing import Mapping

from hotline.channels import africastalking, console, kannel, twilio
from hotline.channels.base import Provider, ProviderConfig

PROVIDERS: dict[str, Provider] = {}
"""Every registered provider by slug."""


def register(provider: Provider) -> Provider:
    """Add a provider; refuse a second one with the same slug."""
    if not provider.slug:
        raise ValueError("a provider needs a slug")
    if provider.slug in PROVIDERS:
        raise ValueError(f"provider {provider.slug!r} is registered twice")
    PROVIDERS[provider.slug] = provider
    return provider


def get(slug: str) -> Provider:
    """The provider registered as `slug`."""
    return PROVIDERS[slug]


def read_configs(environ: Mapping[str, str], production: bool) -> dict[str, ProviderConfig]:
    """Every provider's own settings from the environment (each module validates its own)."""
    return {slug: provider.read_config(environ, production) for slug, provider in PROVIDERS.items()}


_MODULES = (twilio, africastalking, kannel, console)
for _module in _MODULES:
    register(_module.PROVIDER)

__all__ = ["PROVIDERS", "Provider", "get", "read_configs", "register"]
