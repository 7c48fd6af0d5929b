"""A reporter's own number, however they wrote it, never reaches anyone: one finder for the
conflict-of-interest rule and for masking, masked in storage, in partner payloads and on
screens; and numbers are not kept for ever (docs/safety.md rules 1, 2, 4 and 8)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from hotline import payloads, phones, routing
from hotline.models import Report, utcnow
from tests.kit import TW_SMS, direct_report, post, replace, run_worker, sign_in, ussd

OWN = "+85512345678"
KHMER = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")


def written_forms(national: str = "12345678") -> list[str]:
    """Ways people write +855 12 345 678: prefixes, separators, Khmer digits."""
    a, b, c = national[:2], national[2:5], national[5:]
    ascii_forms = [f"0{a} {b} {c}", f"0{a}{b}{c}", f"+855 {a} {b} {c}", f"855{a}{b}{c}", f"00855 {a} {b} {c}",
                   f"0{a}.{b}.{c}", f"0{a}-{b}-{c}", f"(0{a}) {b} {c}", f"+855 (0) {a} {b} {c}", f"{a} {b} {c}",
                   f"0855 {a} {b} {c}"]
    return ascii_forms + [f.translate(KHMER) for f in ascii_forms]


@pytest.mark.parametrize("form", written_forms())
def test_one_finder_for_conflicts_and_masking_reads_every_written_form(form):
    text = f"the broker said call {form} after dark"
    assert OWN in phones.numbers_in(text, "KH")                        # conflict of interest sees it
    masked = phones.mask(text, OWN, "KH")
    assert phones.MASK in masked and OWN not in phones.numbers_in(masked, "KH")   # and masking hides it
    assert masked.startswith("the broker said call ") and masked.endswith(" after dark")
    assert routing.numbers_in_report(routing.RouteInput("recruiter", None, {"details": text}), "KH") >= {OWN}


@settings(max_examples=200, deadline=None)
@given(national=st.from_regex(r"1[0-9]{7}", fullmatch=True), form=st.integers(0, 21), before=st.text(max_size=12),
       after=st.text(max_size=12))
def test_any_number_in_any_form_is_found_and_masked(national, form, before, after):
    own = "+855" + national
    written = written_forms(national)[form]
    text = f"{before} {written} {after}"
    assert own in phones.numbers_in(text, "KH")
    assert own not in phones.numbers_in(phones.mask(text, own, "KH"), "KH")


def test_khmer_digits_of_the_reporters_own_number_never_reach_an_agency(client, services, monkeypatch):
    """The payload scrubber missed ០១២…, while the conflict rule caught it."""
    monkeypatch.setenv("NGO_WEBHOOK_SECRET", "s")
    body = "a broker took my cousin's passport, call me on " + "012 345 678".translate(KHMER)
    post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, Body=body, From=OWN), "valid")
    run_worker(services)
    with services.Session() as db:
        report = db.scalars(select(Report)).one()
        doc = json.dumps(payloads.report_payload(services, report), ensure_ascii=False)
    assert "០១២" not in doc and OWN not in phones.numbers_in(doc, "KH")


def test_the_reporters_own_number_is_masked_where_it_is_stored(client, services):
    """Typed into their own words (and given as 'the recruiter's number'), in any digits: stored masked."""
    steps = ["", "1", "1*14010101", "1*14010101*99", "1*14010101*99*99", f"1*14010101*99*99*{'០១២៣៤៥៦៧៨'}",
             "1*14010101*99*99*012345678*my number is 012 345 678, call me", ]
    for full in steps:
        ussd(client, "ATUid_mine", full, OWN)
    ussd(client, "ATUid_mine", steps[-1] + "*99", OWN)
    ussd(client, "ATUid_mine", steps[-1] + "*99*1", OWN)
    post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, Body="call me on ០១២ ៣៤៥ ៦៧៨ please", From=OWN,
                                                           MessageSid="SMown1"), "valid")
    post(client, "twilio", "/webhooks/twilio/sms", replace(TW_SMS, Body="or 012-345-678 at night", From=OWN,
                                                           MessageSid="SMown2"), "valid")
    with services.Session() as db:
        stored = [json.dumps(r.answers, ensure_ascii=False) for r in db.scalars(select(Report).order_by(Report.id))]
    assert len(stored) == 2
    for words in stored:
        assert OWN not in phones.numbers_in(words, "KH"), words
        assert phones.MASK in words


def test_the_console_shows_no_number_of_the_reporters_own_even_in_reports_stored_before_masking(client, services):
    number = direct_report(services, "unsorted", None, sender=OWN,
                           answers={"text": "call me on " + "012 345 678".translate(KHMER)})
    with services.Session.begin() as db:  # as a report stored before this line masked numbers in storage
        db.execute(update(Report).values(answers={"text": "call me on " + "012 345 678".translate(KHMER),
                                                  "details": ["or 012.345.678"]}))
    sign_in(client, services, "cw-mask", "admin")
    page = client.get(f"/console/reports/{number}").get_data(as_text=True)
    assert "០១២" not in page and "012.345.678" not in page and OWN not in phones.numbers_in(page, "KH")


def test_mask_numbers_command_masks_what_is_stored_already(services):
    from hotline.__main__ import main

    number = direct_report(services, "unsorted", None, sender=OWN, answers={"text": "x"})
    with services.Session.begin() as db:
        db.execute(update(Report).values(answers={"text": "call me on 012 345 678"}))
    assert main(["mask-numbers"]) == 0
    with services.Session() as db:
        words = db.scalar(select(Report.answers).where(Report.number == number))["text"]
    assert words == f"call me on {phones.MASK}"


# ---- 10: numbers are not kept for ever ----------------------------------------------------------
def test_retention_erases_the_number_of_reports_left_open_too_long(services):
    from workers import jobs

    old_open = direct_report(services, "recruiter", sender=OWN)
    young_open = direct_report(services, "recruiter", sender="+85512345679")
    with services.Session.begin() as db:
        db.execute(update(Report).where(Report.number == old_open)
                   .values(created_at=utcnow() - timedelta(days=services.settings.open_retention_days + 1)))
    assert jobs.erase_expired_numbers() == 1
    with services.Session() as db:
        old = db.scalar(select(Report).where(Report.number == old_open))
        young = db.scalar(select(Report).where(Report.number == young_open))
        assert old.reporter_phone is None and old.reporter_hash is None and old.phone_erased_at is not None
        assert old.status == "new"                      # the report stays, only the number goes
        assert young.reporter_phone is not None
        assert [e.data["because"] for e in old.events if e.kind == "number_erased"] == ["open"]
