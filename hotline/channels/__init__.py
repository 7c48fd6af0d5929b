"""Provider modules behind one interface, registered in one explicit list.

Adding a provider: write one module with a `PROVIDER` (a `base.Provider`) and add it to
`_MODULES`. A second registration of the same slug fails loudly.
"""
from __future__ import annotations

from hotline.channels import africastalking, console, twilio
from hotline.channels.base import Provider

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


_MODULES = (twilio, africastalking, console)
for _module in _MODULES:
    register(_module.PROVIDER)

__all__ = ["PROVIDERS", "Provider", "get", "register"]
