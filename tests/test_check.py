"""The configuration check and the settings: errors name their file and line; production
refuses to start without real secrets."""
from __future__ import annotations

import shutil

import pytest

from hotline import check
from hotline.settings import ROOT, Settings, SettingsError


def settings_for(directory) -> Settings:
    return Settings.from_env(environ={"HOTLINE_DIRECTORY": str(directory)})


def test_shipped_configuration_has_no_errors():
    result = check.run(Settings.from_env(environ={}))
    assert result.errors == []
    assert result.screens > 10_000


@pytest.fixture
def broken_dir(tmp_path):
    shutil.copy(ROOT / "config" / "areas.csv", tmp_path / "areas.csv")
    return tmp_path


@pytest.mark.parametrize("contact_yaml,line,fragment", [
    ('  - {id: a, name: A, kind: leader, phone: "+85512000001", areas: ["99999999"]}\n', 9, "unknown area code '99999999'"),
    ('  - {id: a, name: A, kind: leader, phone: "12", areas: ["14"]}\n', 9, "is not a phone number"),
    ('  - {id: a, name: A, kind: chief, phone: "+85512000001", areas: ["14"]}\n', 9, "kind must be leader or agency"),
    ('  - {id: a, name: A, kind: leader, phone: "+85512000001", areas: ["14"]}\n'
     '  - {id: a, name: B, kind: leader, phone: "+85512000002", areas: ["14"]}\n', 10, "duplicate id"),
    ('  - {id: a, name: A, kind: leader, phone: "+85512000001", areas: ["14"], reports: [gossip]}\n', 9, "reports must list"),
])
def test_directory_errors_name_the_line(broken_dir, contact_yaml, line, fragment):
    (broken_dir / "directory.yaml").write_text(
        "hotline:\n  name: Test Line\n  country: KH\n  languages: [km, en]\n  emergency_numbers: [\"117\"]\n"
        "areas: areas.csv\nescalation: {urgent: 10m}\ncontacts:\n" + contact_yaml)
    result = check.run(settings_for(broken_dir / "directory.yaml"))
    assert any(p.line == line and fragment in p.message for p in result.errors), result.errors


def test_bad_duration_is_an_error(broken_dir):
    (broken_dir / "directory.yaml").write_text(
        "hotline:\n  name: T\n  country: KH\n  languages: [en]\n  emergency_numbers: [\"117\"]\n"
        "areas: areas.csv\nescalation:\n  urgent: soon\ncontacts: []\n")
    result = check.run(settings_for(broken_dir / "directory.yaml"))
    assert any(p.line == 8 and "not a duration" in p.message for p in result.errors)


def test_gaps_are_warnings_not_errors():
    result = check.run(Settings.from_env(environ={}))
    assert any("reach nobody" in w.message for w in result.warnings)


def test_a_screen_that_does_not_fit_is_an_error(tmp_path, monkeypatch):
    from hotline import services

    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    en = config / "messages" / "en.yaml"
    en.write_text(en.read_text().replace("q_job: What work was offered?", "q_job: " + "Very long question " * 12))
    monkeypatch.setattr(services, "CONFIG_DIR", config)
    monkeypatch.setattr(check, "load_config", lambda s: services.load_config(s, config))
    result = check.run(Settings.from_env(environ={"HOTLINE_DIRECTORY": str(config / "directory.yaml")}))
    assert any("q_job" in p.message and p.line and "en.yaml" in p.file for p in result.errors)


@pytest.mark.parametrize("env,fragment", [
    ({"HOTLINE_ENV": "production"}, "SECRET_KEY"),
    ({"HOTLINE_ENV": "production", "SECRET_KEY": "x" * 40}, "HOTLINE_DATA_KEY"),
    ({"HOTLINE_ENV": "production", "SECRET_KEY": "x" * 40, "HOTLINE_DATA_KEY": "short"}, "HOTLINE_DATA_KEY"),
    ({"HOTLINE_ENV": "production", "SECRET_KEY": "x" * 40,
      "HOTLINE_DATA_KEY": "ZGV2LW9ubHktZGF0YS1rZXktbm90LWZvci1wcm9kISE="}, "development keys"),
    ({"HOTLINE_ENV": "production", "SECRET_KEY": "x" * 40,
      "HOTLINE_DATA_KEY": "3q2-7wDnL7yJ2kH2a9Y8pQ1mN4bV6cX0zR5tU8wE1sA="}, "SMS_PROVIDER"),
    ({"HOTLINE_ENV": "staging"}, "HOTLINE_ENV"),
    ({"SMS_PROVIDER": "pigeon"}, "SMS_PROVIDER"),
    ({"HOTLINE_PROXY_HOPS": "-1"}, "HOTLINE_PROXY_HOPS"),
    ({"HOTLINE_PROXY_HOPS": "one"}, "HOTLINE_PROXY_HOPS"),
    ({"HOTLINE_PROXY_HOPS": "\u00b2"}, "HOTLINE_PROXY_HOPS"),
    ({"HOTLINE_PROXY_HOPS": "6"}, "HOTLINE_PROXY_HOPS"),
])
def test_production_refuses_without_real_secrets(env, fragment):
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(environ=env)


PRODUCTION = {"HOTLINE_ENV": "production", "SECRET_KEY": "x" * 40,
              "HOTLINE_DATA_KEY": "3q2-7wDnL7yJ2kH2a9Y8pQ1mN4bV6cX0zR5tU8wE1sA="}
TWILIO_ACCOUNT = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "t" * 32, "TWILIO_FROM": "+85512345000"}


def test_production_with_real_secrets_starts():
    s = Settings.from_env(environ={**PRODUCTION, "SMS_PROVIDER": "twilio", **TWILIO_ACCOUNT})
    assert s.production and s.sms_providers == ("twilio",)
    assert Settings.from_env(environ=PRODUCTION | {"SMS_PROVIDERS": "twilio"} | TWILIO_ACCOUNT) \
        .provider("africastalking").webhook_token is None


def test_production_never_signs_with_the_development_twilio_token():
    s = Settings.from_env(environ={**PRODUCTION, "SMS_PROVIDERS": "kannel", "KANNEL_SEND_URL": "http://kannel:13013/cgi-bin/sendsms",
                                   "KANNEL_USERNAME": "line", "KANNEL_PASSWORD": "p" * 20})
    assert s.provider("twilio").auth_token is None
    assert Settings.from_env(environ={}).provider("twilio").auth_token  # development signs so the simulator works


@pytest.mark.parametrize("env,fragment", [
    ({"SMS_PROVIDERS": "twilio"}, "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM"),
    ({"SMS_PROVIDERS": "kannel,twilio", **TWILIO_ACCOUNT}, "KANNEL_SEND_URL"),
    ({"SMS_PROVIDERS": "twilio,console", **TWILIO_ACCOUNT}, "console only stores"),
    ({"SMS_PROVIDERS": "pigeon,twilio", **TWILIO_ACCOUNT}, "SMS_PROVIDERS must name"),
    ({"SMS_PROVIDERS": "twilio", **TWILIO_ACCOUNT, "TWILIO_TPS": "fast"}, "TWILIO_TPS"),
    ({"SMS_PROVIDERS": "twilio", **TWILIO_ACCOUNT, "TWILIO_API_URL": "api.somleng.org"}, "TWILIO_API_URL"),
])
def test_production_refuses_providers_it_cannot_use(env, fragment):
    """Each provider module checks its own settings; every provider named must be able to send."""
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(environ={**PRODUCTION, **env})


def test_sms_providers_wins_over_sms_provider():
    s = Settings.from_env(environ={"SMS_PROVIDERS": "kannel, twilio", "SMS_PROVIDER": "africastalking"})
    assert s.sms_providers == ("kannel", "twilio")


@pytest.mark.parametrize("raw,hops", [(None, 0), ("0", 0), ("1", 1), (" 2 ", 2), ("5", 5)])
def test_proxy_hops(raw, hops):
    assert Settings.from_env(environ={} if raw is None else {"HOTLINE_PROXY_HOPS": raw}).proxy_hops == hops


def test_the_readme_publishes_the_answers_each_report_takes_as_they_are():
    """The table of answers per language and channel in the README is what the engine counts."""
    from hotline import answercount
    from hotline.services import load_config

    readme = (ROOT / "README.md").read_text()
    published = readme.split("<!-- answers:begin -->\n", 1)[1].split("\n<!-- answers:end -->", 1)[0]
    assert published == answercount.markdown(load_config(Settings.from_env(environ={}))[1])


def test_options_1_to_6_must_fit_the_first_page(tmp_path, monkeypatch):
    """Longer Khmer words push 'someone in danger now' to a second page: the check refuses them."""
    from hotline import services

    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    km = config / "messages" / "km.yaml"
    km.write_text(km.read_text().replace("menu_urgent: គ្រោះថ្នាក់", "menu_urgent: មានគ្រោះថ្នាក់ឥឡូវនេះ"))
    monkeypatch.setattr(services, "CONFIG_DIR", config)
    result = check.run(Settings.from_env(environ={"HOTLINE_DIRECTORY": str(config / "directory.yaml")}))
    assert any("first page lacks option" in p.message and "km.yaml" in p.file and p.line for p in result.errors)


@pytest.mark.parametrize("raw,zone", [(None, "Asia/Phnom_Penh"), ("Asia/Bangkok", "Asia/Bangkok"), (" UTC ", "UTC")])
def test_timezone_is_read_and_checked(raw, zone):
    assert Settings.from_env(environ={} if raw is None else {"HOTLINE_TIMEZONE": raw}).timezone == zone


@pytest.mark.parametrize("raw", ["Asia/Nowhere", "+07:00", "../../etc/passwd", "Asia/"])
def test_an_unknown_timezone_is_refused(raw):
    with pytest.raises(SettingsError, match="HOTLINE_TIMEZONE"):
        Settings.from_env(environ={"HOTLINE_TIMEZONE": raw})


def test_make_run_fills_in_the_sample_directorys_secrets_in_development_only():
    """`make run` starts with no warning about missing secrets: development values for the demo agencies'
    webhook secret and API tokens, which production refuses."""
    from hotline import devserver
    from hotline.services import load_config

    development = Settings.from_env(environ={})
    filled = devserver.development_secrets(development, environ={})
    assert set(filled) == {"NGO_WEBHOOK_SECRET", "NGO_API_TOKEN", "TRACING_API_TOKEN"}
    directory = load_config(development)[0]
    assert [m.variable for m in check.missing_settings(directory, development, filled)] == ["SMTP_HOST", "SMTP_HOST"]
    assert not any("NGO_" in w.message or "TOKEN" in w.message
                   for w in check.delivery_warnings(directory, development, filled))
    assert devserver.development_secrets(development, environ={"NGO_API_TOKEN": "mine"}).get("NGO_API_TOKEN") is None
    production = {"HOTLINE_ENV": "production", "SECRET_KEY": "x" * 40, "SMS_PROVIDER": "twilio",
                  "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "t" * 32, "TWILIO_FROM": "+85512000000",
                  "HOTLINE_DATA_KEY": "3q2-7wDnL7yJ2kH2a9Y8pQ1mN4bV6cX0zR5tU8wE1sA="}
    with pytest.raises(SettingsError, match="NGO_WEBHOOK_SECRET"):
        Settings.from_env(environ=dict(production, NGO_WEBHOOK_SECRET=filled["NGO_WEBHOOK_SECRET"]))
    assert devserver.development_secrets(Settings.from_env(environ=production), environ={}) == {}


def test_a_prepared_reply_that_does_not_fit_is_an_error(tmp_path, monkeypatch):
    from hotline import services

    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    replies = config / "replies.yaml"
    replies.write_text(replies.read_text().replace("    en: If someone is in danger now, call {emergency}.",
                                                   "    en: " + "Please wait for us to call you back soon. " * 12)
                       .replace("  thanks:\n", "  thanks:\n    xx: \"{name}, thank you\"\n"))
    monkeypatch.setattr(services, "CONFIG_DIR", config)
    monkeypatch.setattr(check, "load_config", lambda s: services.load_config(s, config))
    result = check.run(Settings.from_env(environ={"HOTLINE_DIRECTORY": str(config / "directory.yaml")}))
    messages = [(p.message, p.line) for p in result.errors if p.file.endswith("replies.yaml")]
    assert any("reply danger (en) does not fit 3 SMS parts" in m and line for m, line in messages), messages
    assert any("reply thanks (xx): unknown placeholder(s) name" in m for m, _ in messages), messages
    (config / "replies.yaml").write_text("replies:\n  short:\n    en: Thank you.\n")
    result = check.run(Settings.from_env(environ={"HOTLINE_DIRECTORY": str(config / "directory.yaml")}))
    assert any("reply short: no words in km" in p.message for p in result.errors)


def test_the_shipped_prepared_replies_fit_in_every_language():
    from hotline import replies
    from hotline.services import load_config

    line = load_config(Settings.from_env(environ={}))[0].line
    found = replies.load(ROOT / "config", line)
    assert len(found) >= 3 and all(set(r.texts) == set(line.languages) for r in found.values())
