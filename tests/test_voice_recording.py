"""Recording the prompts without a studio: the staff recording call (PIN, each clip's number and
English words, <Record>, played back for approval, fetched and checked by a worker) and the
console's Voice prompts page (a player beside each text, uploads checked for format, length and
loudness). The clips are test tones the tests make: no Khmer voice exists here, none is shipped."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from hotline import channels
from hotline.models import AuditEntry
from hotline.settings import ROOT
from tests.kit import (
    BASE,
    TWILIO_TOKEN,
    Caller,
    run_worker,
    sign_in,
    test_tone,
)

PIN = "482916"
STAFF = "+85512345700"
RECORDING = "/webhooks/twilio/voice/recording"


@pytest.fixture
def voice_dir(settings, tmp_path):
    """An empty voice folder of this test's own (no clip recorded)."""
    folder = tmp_path / "voice"
    folder.mkdir()
    shutil.copy(ROOT / "config" / "voice" / "languages.yaml", folder / "languages.yaml")
    settings.voice_dir = str(folder)
    settings.voice_recording_pin = PIN
    return folder


@pytest.fixture
def platform(voice_dir, services, fake_twilio, monkeypatch):
    """The platform (FakeTwilio) keeps the recordings and signs the webhooks with the line's token."""
    fake_twilio.auth_token = TWILIO_TOKEN
    config = channels.get("twilio").read_config(fake_twilio.env(TWILIO_AUTH_TOKEN=TWILIO_TOKEN), False)
    monkeypatch.setitem(services.settings.providers, "twilio", config)
    return fake_twilio


def recorder(client, sid: str = "CA-rec", phone: str = STAFF) -> Caller:
    return Caller(client, sid, phone=phone, path=RECORDING)


def test_the_recording_call_records_checks_and_keeps_each_prompt(client, services, platform, voice_dir):
    call = recorder(client)
    assert call.dial() == "Staff recording line. Type your PIN, then press hash."
    assert call.press("1111").startswith("That PIN is not right.")
    assert call.press(PIN) == "Which language will you record? For Khmer, press 1."
    assert call.press("1").startswith("Khmer has 107 clips, 107 not recorded yet. To record the 107 missing, press 1.")
    heard = call.press("1")
    assert heard == ("Clip 1 of 107: number 1 on the script. In English: Safe Village Line. "
                     "Say it in Khmer after the tone, then press hash.")
    assert '<Record action="https://line.example.org/webhooks/twilio/voice/recording?s=5"' in call.twiml
    assert 'maxLength="30"' in call.twiml and 'playBeep="true"' in call.twiml
    url = platform.recording(test_tone(1.2))
    heard = call.record(url)
    assert f"<Play>{url}</Play>" in call.twiml                                  # played back for approval
    assert heard.endswith("To keep it, press 1. To record it again, press 2. To skip this clip, press 3.")
    assert call.press("1") == "Checking the recording."
    assert call.wait() == "One moment."                                          # the worker has not run yet
    run_worker(services)
    assert (voice_dir / "km" / "line_name.wav").read_bytes() == test_tone(1.2)
    assert call.wait().startswith("Kept. Clip 2 of 107: number 2 on the script. In English: For.")
    with services.Session() as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "voice.clip"))
        assert (entry.actor, entry.target) == ("recording-call", "km/line_name")
    # A whisper is not kept: the recorder hears why, and records it again.
    call.record(platform.recording(test_tone(1.0, level=0.02)))
    call.press("1")
    run_worker(services)
    assert call.wait().startswith("Not kept: too quiet (")
    assert "Please record it again. Clip 2 of 107" in call.heard
    assert not (voice_dir / "km" / "voice_option.1.wav").exists()
    call.record(platform.recording(test_tone(0.5)))
    assert call.press("2").startswith("Clip 2 of 107")                             # again, before keeping it
    call.record(platform.recording(test_tone(0.5)))
    assert call.press("3").startswith("Clip 3 of 107")                             # skipped
    services.reload()
    km = next(r for r in services.engine.voice_report if r.lang == "km")
    assert len(km.missing) == 106


def test_the_recording_call_is_closed_without_a_pin_and_shuts_out_guessers(client, services, platform, settings):
    call = recorder(client, "CA-guess", phone="+85512345701")
    call.dial()
    assert call.press("0000").startswith("That PIN is not right.")
    call.press("1234")
    assert call.press("9999") == "Too many wrong PINs. Goodbye." and call.ended
    again = recorder(client, "CA-guess-2", phone="+85512345701")
    assert again.dial() == "Too many wrong PINs from this phone. Try again later. Goodbye."
    settings.voice_recording_pin = None
    closed = recorder(client, "CA-closed", phone="+85512345702").post(BASE + RECORDING)
    assert closed.status_code == 403 and b"HOTLINE_VOICE_RECORDING_PIN is not set" in closed.data


def test_a_recording_from_elsewhere_is_refused(client, services, platform):
    call = recorder(client, "CA-elsewhere")
    call.dial()
    for key in (PIN, "1", "1"):
        call.press(key)
    response = call.post(call.action, RecordingUrl="http://169.254.169.254/latest/meta-data", RecordingDuration="1")
    assert response.status_code == 400 and b"RecordingUrl is not a recording kept by the platform" in response.data
    stale = call.post(BASE + RECORDING + "?s=2", Digits="1")
    assert stale.status_code == 409


def test_the_pin_setting_is_digits_with_no_default_and_long_in_production():
    from hotline.settings import Settings, SettingsError

    assert Settings.from_env(environ={}).voice_recording_pin is None
    assert Settings.from_env(environ={"HOTLINE_VOICE_RECORDING_PIN": "4829"}).voice_recording_pin == "4829"
    for bad in ("12ab", "12", "1" * 13):
        with pytest.raises(SettingsError, match="HOTLINE_VOICE_RECORDING_PIN"):
            Settings.from_env(environ={"HOTLINE_VOICE_RECORDING_PIN": bad})
    production = {"HOTLINE_ENV": "production", "SECRET_KEY": "s" * 20,
                  "HOTLINE_DATA_KEY": "x5bA4rDqBXvZ2nJ0qYx7nSZ8c9YVt1oP3wQk5mR6sHc=", "SMS_PROVIDERS": "twilio",
                  "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM": "+85512345000"}
    for bad in ("4829", "111111"):
        with pytest.raises(SettingsError, match="HOTLINE_VOICE_RECORDING_PIN"):
            Settings.from_env(environ=dict(production, HOTLINE_VOICE_RECORDING_PIN=bad))
    assert Settings.from_env(environ=dict(production, HOTLINE_VOICE_RECORDING_PIN="482916")).voice_recording_pin


# ---- the console's Voice prompts page -------------------------------------------------------------------
def upload(client, clip: str, data: bytes, lang: str = "km", name: str = "clip.wav"):
    import io

    page = client.get("/console/voice").get_data(as_text=True)
    import re

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return client.post(f"/console/voice/{lang}", data={"csrf_token": token, "clip": clip, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_the_upload_page_records_khmer_until_calls_offer_it(client, services, voice_dir):
    sign_in(client, services, "ops", role="admin")
    page = client.get("/console/voice").get_data(as_text=True)
    assert "0 of 107 recorded" in page and "not offered on calls until every clip is recorded" in page
    assert "ការងារសង្ស័យ" in page and "Worrying job offer" in page            # the words, and their English
    assert "Spoken by the platform's text-to-speech" in page.replace("&#39;", "'")       # English needs nothing
    assert upload(client, "menu_recruiter", test_tone(0.8)).status_code == 303
    page = client.get("/console/voice").get_data(as_text=True)
    assert "Clip menu_recruiter kept." in page and "1 of 107 recorded" in page
    assert '<audio controls preload="none" src="/voice/km/menu_recruiter.wav?v=' in page     # a player beside it
    player = page.split('src="/voice/km/menu_recruiter.wav', 1)[1].split('"', 1)[0]
    assert client.get("/voice/km/menu_recruiter.wav" + player).data == test_tone(0.8)
    with services.Session() as db:
        assert db.scalar(select(AuditEntry.target).where(AuditEntry.action == "voice.clip")) == "km/menu_recruiter"
    from hotline.voice import recording

    for clip in recording.script(services, "km"):
        if clip.id != "menu_recruiter":
            assert upload(client, clip.id, test_tone(0.4)).status_code == 303
    assert "107 of 107 recorded" in client.get("/console/voice").get_data(as_text=True)
    assert services.reload() == []
    assert services.engine.voice_setup.offered == ("km", "en")
    call = Caller(client, "CA-after-upload", phone="+85512345720")
    assert call.dial().startswith("[clip km/line_name] [clip km/voice_option.1] [clip km/menu_recruiter]")


@pytest.mark.parametrize("data,name,words", [
    (b"RIFF....WAVEnot really", "x.wav", "not an audio file the line can read"),
    (test_tone(0.1), "x.wav", "too short to be a prompt"),
    (test_tone(31), "x.wav", "a prompt is at most 30 s"),
    (test_tone(1, level=0.02), "x.wav", "too quiet"),
    (test_tone(1, level=1.5), "x.wav", "distorted"),
    (test_tone(1, rate=4000), "x.wav", "at least 8000 Hz"),
    (test_tone(1, fmt="FLAC"), "x.flac", "give a WAV or MP3 file"),
    (b"", "x.wav", "not an audio file"),
])
def test_uploads_are_checked_for_format_length_and_loudness(client, services, voice_dir, data, name, words):
    sign_in(client, services, "ops", role="admin")
    response = upload(client, "voice_goodbye", data, name=name)
    assert response.status_code == 303
    assert words in client.get("/console/voice").get_data(as_text=True).replace("&#39;", "'")
    assert not (voice_dir / "km").exists() or list((voice_dir / "km").iterdir()) == []


def test_mp3_clips_are_kept_and_a_new_one_replaces_the_old(client, services, voice_dir):
    sign_in(client, services, "ops", role="admin")
    assert upload(client, "voice_goodbye", test_tone(1)).status_code == 303
    assert upload(client, "voice_goodbye", test_tone(1, fmt="MP3"), name="bye.mp3").status_code == 303
    assert sorted(p.name for p in (voice_dir / "km").iterdir()) == ["voice_goodbye.mp3"]
    big = test_tone(25, rate=44100)                                              # 2.2 MB: over the limit
    assert len(big) > 2 * 1024 * 1024 and upload(client, "voice_goodbye", big).status_code == 413
    roomy = test_tone(15, rate=44100)                                            # 1.3 MB: a clip may be that large
    assert upload(client, "voice_goodbye", roomy).status_code == 303 and (voice_dir / "km" / "voice_goodbye.wav").exists()


def test_only_line_staff_admins_see_and_change_the_prompts(client, services, voice_dir):
    sign_in(client, services, "cw", role="caseworker")
    assert client.get("/console/voice").status_code == 403
    client.post("/console/logout")
    sign_in(client, services, "ngoadmin", role="admin", agency="ngo-safe-migration")
    assert client.get("/console/voice").status_code == 403
    client.post("/console/logout")
    sign_in(client, services, "ops", role="admin")
    for clip in ("../../etc/passwd", "not_a_clip", "areas/99999999"):
        upload(client, clip, test_tone(1))
        assert "There is no such clip." in client.get("/console/voice").get_data(as_text=True)
    assert upload(client, "areas/14010101", test_tone(1)).status_code == 303
    assert (voice_dir / "km" / "areas" / "14010101.wav").exists()
