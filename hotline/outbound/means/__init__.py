"""How an alert reaches a contact: one small module per means (SMS, webhook, email) behind one
interface (`base.Means`: whether a contact gets it, the row that delivers it, how it is sent and what
a failure means), registered like providers. A second registration of a slug fails loudly.

Adding a means: write a module with a `MEANS` and add it to `_MODULES`."""
from __future__ import annotations

from hotline.outbound.means import email, sms, webhook
from hotline.outbound.means.base import Means

MEANS: dict[str, Means] = {}
"""Every registered means by slug, in the order a contact's alerts are made."""


def register(means: Means) -> Means:
    """Add a means; refuse a second one with the same slug."""
    if not means.slug:
        raise ValueError("a means needs a slug")
    if means.slug in MEANS:
        raise ValueError(f"means {means.slug!r} is registered twice")
    MEANS[means.slug] = means
    return means


_MODULES = (sms, webhook, email)
for _module in _MODULES:
    register(_module.MEANS)

__all__ = ["MEANS", "Means", "register"]
