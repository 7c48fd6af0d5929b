"""Words, not codes: what the console shows for the line's codes, in the reader's language.

Report types and answers are named by the line's own texts (config/messages/<lang>.yaml: the words
a reporter chose them by, `alert_type_<type>` for each type), places by the gazetteer with their
whole path (village › commune › district › province), and statuses, timeline entries, means, alert
kinds and roles by the console's catalogue (`hotline/translations/data_words.py` lists them). A
code nothing names (a type since removed from flows.yaml, say) is shown as it is.
"""
from __future__ import annotations

from flask_babel import gettext

from hotline.translations import data_words as words_of

PATH_SEPARATOR = " › "
"""Between the names of a place's path, most specific first."""

NO_LEVEL = "—"
"""The level of an alert that has none (a status update to an agency)."""


class Words:
    """The console's words for one reader's language, over the line's current configuration."""

    def __init__(self, services, lang: str):
        self._s, self.lang = services, lang

    def _line_text(self, key: str) -> str | None:
        """The line's own words for `key` in the reader's language (else the line's first), if any."""
        config = self._s.engine.config
        known = key in config.texts.get(self.lang, {}) or key in config.texts.get(config.line.languages[0], {})
        return config.text(self.lang, key) if known else None

    def type(self, code: str) -> str:
        """A report type, as the line names it in its alerts."""
        return self._line_text(f"alert_type_{code}") or code

    def status(self, code: str) -> str:
        """A report status."""
        return _catalogued(words_of.STATUSES, code)

    def answer(self, question: str, value: object) -> str:
        """An answer to a choice question (its option's words) or a consent question (yes or no)."""
        if isinstance(value, bool):
            return self._line_text("consent_yes" if value else "consent_no") or str(value)
        return (self._line_text(value) if isinstance(value, str) and value else None) or str(value)

    def question(self, question: str) -> str:
        """A question by its id, as the line asks it (the first flow that asks it)."""
        for flow in self._s.engine.config.flows.values():
            for q in flow.questions:
                if q.id == question:
                    return self._line_text(q.prompt) or question
        return question

    def place(self, code: str | None) -> str:
        """A place with its whole path, most specific first: village › commune › district › province."""
        gaz = self._s.directory.gazetteer
        if not code or code not in gaz:
            return code or self._line_text("place_unknown") or "—"
        return PATH_SEPARATOR.join(a.name(self.lang) for a in reversed(gaz.path(code)))

    def area_level(self, level: str) -> str:
        """A level of the gazetteer: province, district, commune or village."""
        return _catalogued(words_of.AREA_LEVELS, level)

    def language(self, code: str) -> str:
        """A language, by its own name in the line's texts."""
        return self._s.engine.config.language_name(code)

    def channel(self, code: str) -> str:
        """How a report came in."""
        return _catalogued(words_of.CHANNELS, code)

    def event(self, kind: str) -> str:
        """A timeline entry's kind."""
        return _catalogued(words_of.TIMELINE, kind)

    def call_outcome(self, code: str | None) -> str:
        """How a masked call-back ended."""
        return _catalogued(words_of.CALL_OUTCOMES, code or "")

    def duration(self, seconds: int) -> str:
        """How long a call lasted, in minutes and seconds."""
        minutes, rest = divmod(int(seconds), 60)
        return gettext("%(m)d min %(s)d s", m=minutes, s=rest) if minutes else gettext("%(s)d s", s=rest)

    def means(self, code: str) -> str:
        """How an alert is sent."""
        return _catalogued(words_of.MEANS, code)

    def alert_kind(self, code: str) -> str:
        """Why an alert was sent."""
        return _catalogued(words_of.ALERT_KINDS, code)

    def link_by(self, code: str) -> str:
        """What links two reports (or what kind of identifier a recruiter's is)."""
        return _catalogued(words_of.LINK_BY, code)

    @staticmethod
    def link_grounds(by: set[str]) -> list[str]:
        """A link's grounds in the order the console lists them."""
        from hotline.linking.index import ordered_by

        return ordered_by(by)

    def delivery(self, code: str) -> str:
        """A delivery's state."""
        return _catalogued(words_of.DELIVERY, code)

    def role(self, code: str) -> str:
        """A console role."""
        return _catalogued(words_of.ROLES, code)

    def level(self, kind: str, level: int, contact_id: str, area_code: str | None) -> str:
        """An alert's level: its step up the escalation (1 first), and for a leader the level of the
        area it answers for. A status update has no level (its row keeps the event's id there), nor has a
        cluster (its row keeps the cluster's size)."""
        if kind in ("updated", "cluster"):
            return NO_LEVEL
        contact = self._s.directory.contact(contact_id)
        gaz = self._s.directory.gazetteer
        if contact is None or contact.kind != "leader" or not area_code:
            return str(level + 1)
        covering = [gaz.get(code) for code in contact.areas if code in gaz and gaz.contains(code, area_code)]
        if not covering:
            return str(level + 1)
        deepest = max(covering, key=lambda a: len(a.code))
        return f"{level + 1} ({self.area_level(deepest.level)})"

    def heading(self, column: str) -> str:
        """A column of the CSV export: its heading, "… (code)" for the column of codes after it, and
        an answer's column headed by its question."""
        base, _, suffix = column.rpartition("_code")
        if not suffix and base:
            return gettext("%(column)s (code)", column=self.heading(base))
        if column in words_of.CSV_COLUMNS:
            return gettext(words_of.CSV_COLUMNS[column])
        return self.question(column)


def _catalogued(table: dict[str, str], code: str) -> str:
    """The catalogue's words for a code of `table`, in the reader's language; the code if none."""
    return gettext(table[code]) if code in table else code
