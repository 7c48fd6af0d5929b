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
    """The parts of a list screen: fixed lines around a list that may be paged.

    `intro` is on the first page only (the question, above the list), and so is `outro` (below
    it; on later pages where it still fits). `first` (how to go back, what else may be typed) is
    on the first page too, or closes the list where that makes its items quicker to reach
    (`paginate`): never left out. `top` and `bottom` are on every page, `optional` lines wherever
    they still fit."""

    top: tuple[str, ...]
    items: tuple[str, ...]
    bottom: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    more: str = "98 More"
    intro: tuple[str, ...] = ()
    first: tuple[str, ...] = ()
    outro: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pages:
    """How a layout is cut: the items of each page, and whether `first` moved to the last page."""

    items: tuple[tuple[str, ...], ...]
    first_last: bool = False

    def __len__(self) -> int:
        return len(self.items)


def _join(lines) -> str:
    """Lines of a screen, empty ones left out."""
    return "\n".join(line for line in lines if line)


def _page_text(layout: Layout, items, page: int, more: bool, first: bool) -> str:
    """One page's required lines around its items."""
    head = (*layout.intro, *layout.top) if page == 0 else layout.top
    tail = (*layout.bottom, *(layout.outro if page == 0 else ()), *(layout.first if first else ()))
    return _join([*head, *items, layout.more if more else "", *tail])


def _cut(layout: Layout, items: tuple[str, ...], channel: str, first: bool) -> list[tuple[str, ...]]:
    """Fill pages in order (`first` on page 0 when asked)."""
    pages: list[tuple[str, ...]] = []
    current: list[str] = []
    for item in items:
        trial = current + [item]
        if fits_screen(_page_text(layout, trial, len(pages), True, first and not pages), channel) or not current:
            current = trial
        else:
            pages.append(tuple(current))
            current = [item]
    pages.append(tuple(current))
    return pages


@lru_cache(maxsize=4096)
def paginate(layout: Layout, channel: str) -> Pages:
    """Cut the items into pages that each fit the channel with the fixed lines.

    `first` goes on the first page, unless the list is quicker to use with those lines after
    its items (fewer "98 More" presses on average to reach an item): then they close the list,
    on its last page or a page of their own.

    Remembered: the same list in the same words is cut the same way on every request."""
    cuts = [_merged(layout, _cut(layout, layout.items, channel, True), channel, False)]
    if layout.first and layout.items:
        cuts.append(_merged(layout, _cut(layout, layout.items + layout.first, channel, False), channel, True))
    fitting = [pages for pages in cuts if _fits(layout, pages, channel)] or cuts
    return min(fitting, key=lambda pages: (_presses(pages, len(layout.items)), pages.first_last))


def _fits(layout: Layout, pages: Pages, channel: str) -> bool:
    """True if every page of a cut fits the channel (a first page may not, with `first` on it)."""
    last = len(pages) - 1
    return all(fits_screen(_page_text(layout, items, i, i < last, i == 0 and not pages.first_last), channel)
               for i, items in enumerate(pages.items))


def _merged(layout: Layout, pages: list[tuple[str, ...]], channel: str, first_last: bool) -> Pages:
    """Two pages that fit on one without the "98 More" line become one."""
    if len(pages) == 2 and fits_screen(_page_text(layout, pages[0] + pages[1], 0, False, not first_last), channel):
        return Pages((pages[0] + pages[1],), first_last)
    return Pages(tuple(pages), first_last)


def _presses(pages: Pages, count: int) -> float:
    """How many "98 More" a reporter presses on average to reach an item."""
    if not count:
        return 0.0
    seen, total = 0, 0
    for index, page in enumerate(pages.items):
        here = min(len(page), count - seen)
        total += index * here
        seen += here
    return total / count


def render(layout: Layout, channel: str, page: int = 0) -> tuple[str, int]:
    """The text of one page of a list screen, and how many pages there are."""
    pages = paginate(layout, channel)
    page = page % len(pages)
    with_first = page == 0 and not pages.first_last
    text = _page_text(layout, pages.items[page], page, page < len(pages) - 1, with_first)
    extras = (*(layout.outro if page else ()), *(() if with_first or pages.first_last else layout.first),
              *layout.optional)
    for extra in extras:
        if fits_screen(_join([text, extra]), channel):
            text = _join([text, extra])
    return text, len(pages)
