"""The worker process's Services, built once from the environment on first use."""
from __future__ import annotations

from hotline import services as services_module
from hotline.settings import Settings

_services: services_module.Services | None = None


def services() -> services_module.Services:
    """This process's Services (settings from the environment and `.env`)."""
    global _services
    if _services is None:
        _services = services_module.build(Settings.from_env())
    return _services


def use(s: services_module.Services | None) -> None:
    """Make jobs in this process use `s` (tests and the dev launcher); None forgets it."""
    global _services
    _services = s
