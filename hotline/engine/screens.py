"""Screens built to fit their channel: numbered lists cut into pages by budget."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from hotline import smsbudget

SMS_SCREEN_PARTS = 2
"""A menu screen sent by SMS takes at most this many parts (replies at most 3)."""

USSD_PREFIX = "CON "
"""Counted in every USSD screen, since networks may count it."""


def fits_screen(text: str, channel: str) -> bool:
    """True if a menu screen fits one USSD page or SMS_SCREEN_PARTS SMS parts."""
    if channel == "ussd":
        return smsbudget.fits_ussd(USSD_PREFIX + text)
    return smsbudget.fits_sms(text, SMS_SCREEN_PARTS)


def fits_final(text: str, channel: str) -> bool:
    """True if a final answer fits one USSD page or the SMS reply limit."""
    if channel == "ussd":
        return smsbudget.fits_ussd("END " + text)
    return smsbudget.fits_sms(text)


@dataclass(frozen=True)
class Layout:
    """The parts of a list screen: fixed lines around a list that may be paged."""

    top: tuple[str, ...]
    items: tuple[str, ...]
    bottom: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    more: str = "98 More"


def _join(lines) -> str:
    """Lines of a screen, empty ones left out."""
    return "\n".join(line for line in lines if line)


@lru_cache(maxsize=4096)
def paginate(layout: Layout, channel: str) -> tuple[tuple[str, ...], ...]:
    """Cut the items into pages that each fit the channel with the fixed lines.

    Remembered: the same list in the same words is cut the same way on every request."""
    pages: list[tuple[str, ...]] = []
    current: list[str] = []
    for item in layout.items:
        trial = current + [item]
        if fits_screen(_join([*layout.top, *trial, layout.more, *layout.bottom]), channel) or not current:
            current = trial
        else:
            pages.append(tuple(current))
            current = [item]
    pages.append(tuple(current))
    if len(pages) == 2 and fits_screen(_join([*layout.top, *pages[0], *pages[1], *layout.bottom]), channel):
        return (pages[0] + pages[1],)
    return tuple(pages)


def render(layout: Layout, channel: str, page: int = 0) -> tuple[str, int]:
    """The text of one page of a list screen, and how many pages there are."""
    pages = paginate(layout, channel)
    page = page % len(pages)
    lines = [*layout.top, *pages[page]]
    if page < len(pages) - 1:
        lines.append(layout.more)
    lines.extend(layout.bottom)
    text = _join(lines)
    for extra in layout.optional:
        if fits_screen(_join([text, extra]), channel):
            text = _join([text, extra])
    return text, len(pages)
