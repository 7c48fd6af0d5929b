"""What a report names that another report may name too: pure functions of its answers.

- `phone`: every valid number given about a recruiter, in any written form (`phones.named_numbers`:
  the finder that masks reporters' numbers, reading each number once), as E.164.
- `name`: an agency's or company's name, found next to the word for one (English, Khmer script or
  romanised Khmer: "Golden Star agency", "ក្រុមហ៊ុនផ្កាយមាស", "kromhun phkay meas"), in its key form.
- `description`: all the report's free words together, in key form, for similarity only.

The reporter's own number never becomes an identifier: stored words have it masked, and it is left
out here too, however it is written. Names of people are not taken (a reporter may write their own).
"""
from __future__ import annotations

from dataclasses import dataclass

from hotline import phones
from hotline.linking import words

KINDS = ("phone", "name", "description")
"""Every kind of identifier."""

CLUSTER_KINDS = ("phone", "name")
"""The kinds that make clusters and the recruiters page (a description is for suggestions only)."""

ORG_WORDS = frozenset({"agency", "agencies", "company", "co", "ltd", "limited", "inc", "corp", "corporation",
                       "recruitment", "recruiting", "recruiter", "recruiters", "manpower", "employment", "services",
                       "service", "group"})
"""English words that follow a name of an agency ("Golden Star agency")."""

ORG_BEFORE = frozenset({"kromhun", "krumhun", "kromhon", "krumhoun", "phnakngear", "pnakngea", "agency", "company"})
"""Words a name follows, as Khmer puts them (romanised "kromhun phkay meas"; "agency Golden Star")."""

KHMER_ORG = ("ក្រុមហ៊ុន", "ភ្នាក់ងារ")
"""Khmer for company and agency: the name follows, often with no space ("ក្រុមហ៊ុនផ្កាយមាស")."""

STOP_WORDS = frozenset({"a", "an", "the", "of", "from", "at", "with", "by", "in", "for", "to", "and", "or", "is", "was",
                        "are", "called", "named", "name", "his", "her", "their", "my", "our", "he", "she", "they",
                        "we", "i", "it", "said", "says", "say", "this",
                        "that", "there", "has", "have", "had", "gave", "give", "number", "phone", "car", "van", "call",
                        "mr", "mrs", "ms", "miss", "lok", "louk", "neak", "neaksrei", "chmous", "chhmuos"})
"""Words that end a name (titles of people among them: a name of a person is never taken) (a name is at most NAME_WORDS words between them)."""

GENERIC_WORDS = frozenset({"job", "jobs", "work", "works", "worker", "workers", "labour", "labor", "travel", "new", "big",
                           "good", "thai", "thailand", "korea", "korean", "malaysia", "japan", "china", "factory",
                           "fishing", "construction", "maid", "cambodia", "khmer", "international", "local", "best"})
"""Words that name no agency by themselves: a "name" of these words only ("a job agency") is none."""

NAME_WORDS = 3
"""Most words a name has."""

KHMER_NAME_CHARS = 24
"""Most characters taken as a name after a Khmer word for agency (Khmer is often written without spaces)."""

MIN_KEY = 3
"""A name or description key shorter than this names nothing."""

MIN_DESCRIPTION_WORDS = 2
"""A description of fewer words is not compared."""


@dataclass(frozen=True)
class Named:
    """One identifier of a report: its kind, the value that matches (E.164 number, or key form), and
    what people read (the number, or the name tidied)."""

    kind: str
    value: str
    label: str


def names_in(text: str) -> list[tuple[str, str]]:
    """(key, label) of every agency name written in `text` (`tidy` form is read)."""
    tidy = words.tidy(text)
    found: list[str] = []
    tokens = tidy.split()
    for i, token in enumerate(tokens):
        if token in ORG_WORDS and i > 0:
            before = _name_words(reversed(tokens[max(0, i - NAME_WORDS):i]))[::-1]
            if before:
                found.append(" ".join(before))
                continue
        if token in ORG_BEFORE:
            after = _name_words(tokens[i + 1:i + 1 + NAME_WORDS])
            if after:
                found.append(" ".join(after))
        for org in KHMER_ORG:
            if token.startswith(org):
                rest = token[len(org):] or (tokens[i + 1] if i + 1 < len(tokens) else "")
                if rest and not rest.isascii():
                    found.append(rest[:KHMER_NAME_CHARS])
    out, seen = [], set()
    for label in found:
        key = name_key(label)
        if len(key) >= MIN_KEY and key not in seen and not key.isdigit() \
                and not set(words.tidy(label).split()) <= GENERIC_WORDS:
            seen.add(key)
            out.append((key, label))
    return out


def name_key(name: str) -> str:
    """The key form of an agency's name as written ("Sun Rise Manpower Co." and "sunrise" compare as
    "sun rise" and "sunrise"): the words for agency or company left out."""
    return words.key(" ".join(w for w in words.tidy(name).split() if w not in ORG_WORDS))


def _name_words(tokens) -> list[str]:
    """The words of a name, from the one next to the agency word outwards, up to the first stop word."""
    kept = []
    for token in tokens:
        if token in STOP_WORDS or token in ORG_WORDS or token.isdigit():
            break
        kept.append(token)
    return kept


def description(texts: list[str]) -> str | None:
    """The key form of a report's free words together (no digits: numbers are phones), if long enough."""
    joined = " ".join(t.replace(phones.MASK, " ") for t in texts if t)
    key = " ".join(w for w in words.key(joined).split() if not w.isdigit())
    return key if len(key.split()) >= MIN_DESCRIPTION_WORDS and len(key) >= MIN_KEY else None


def of_answers(answers: dict, phone_ids: tuple[str, ...], text_ids: tuple[str, ...], own: str | None,
               country: str = "KH", numbers_in_words: bool = True) -> list[Named]:
    """Every identifier a report's answers name: numbers from its phone answers and free words, agency
    names and its description from its free words; never `own` (the reporter's number). With
    `numbers_in_words` False, numbers come from phone answers only (see `hotline.linking.work`)."""
    texts = [str(answers[k]) for k in text_ids if isinstance(answers.get(k), str)]
    texts += [str(d) for d in answers.get("details", []) if isinstance(d, str)]
    phone_texts = [str(answers[k]) for k in phone_ids if isinstance(answers.get(k), str)]
    found: dict[tuple[str, str], Named] = {}
    for text in phone_texts + (texts if numbers_in_words else []):
        for number in phones.named_numbers(text, country):
            if number.number != own:
                found.setdefault(("phone", number.number), Named("phone", number.number, number.number))
    for text in texts:
        for key, label in names_in(text):
            found.setdefault(("name", key), Named("name", key, label))
    words_key = description(texts)
    if words_key:
        found[("description", words_key)] = Named("description", words_key, words_key)
    return list(found.values())


_PHONE_KIND, _TEXT_KINDS = "phone", ("text",)


def question_ids(flow) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(phone question ids, free-text answer ids) of a report type's flow; a free-text type's words
    are its `text` answer (flows.yaml's `free_text`)."""
    questions = getattr(flow, "questions", ()) if flow is not None else ()
    phone_ids = tuple(q.id for q in questions if q.kind == _PHONE_KIND)
    text_ids = tuple(q.id for q in questions if q.kind in _TEXT_KINDS) + ("text",)
    return phone_ids, text_ids

