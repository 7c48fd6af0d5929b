"""The console and the phone simulator in a real browser: headless Chromium (Debian's
/usr/bin/chromium and /usr/bin/chromedriver, never a downloaded one) driven by Selenium,
against the app served over real HTTP on loopback, with the real Redis, database and worker.

Skipped when the browser is not installed, except under CI (CI set), where that fails."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
IN_CI = bool(os.environ.get("CI"))
MISSING = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]

if not IN_CI:
    if MISSING:
        pytest.skip(f"no browser to test with ({', '.join(MISSING)} missing): "
                    "apt-get install chromium chromium-driver", allow_module_level=True)
    pytest.importorskip("selenium", reason="selenium is not installed: pip install -r requirements-dev.txt")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402, N812
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402
from sqlalchemy import select  # noqa: E402

from hotline.console.auth import create_user  # noqa: E402
from hotline.models import OutboundMessage, Report  # noqa: E402
from tests.kit import REPORTER, URGENT_STEPS, run_worker, ussd  # noqa: E402

AGENCY = "ngo-safe-migration"
NEW_PASSWORD = "a long new password in the browser"
WAIT = 10
"""Seconds any one thing may take to show up in the browser."""

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1280,1024", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """One headless Chromium for the module, logging its console."""
    if MISSING:  # only reached under CI: a missing browser is a failure there
        pytest.fail(f"CI is set but the browser is missing: {', '.join(MISSING)} "
                    "(.ci/run installs chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(30)
    yield browser
    browser.quit()


@pytest.fixture
def browser(driver, live_server):
    """The browser with no cookies (ports share them) and its console log drained. The last test's
    page is left first: its scripts (the simulator polls its outbox) would otherwise go on calling a
    server that is gone, and log it in this test."""
    driver.get("about:blank")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get_log("browser")
    return driver


@pytest.fixture
def reports(client, services):
    """Through the real USSD webhook: a recruiter report in Angkrong whose reporter agrees to be
    contacted, and an urgent one; both routed by a real worker. {type: number}."""
    recruiter = ("", "1", "1*14010101", "1*14010101*99", "1*14010101*99*99", "1*14010101*99*99*99",
                 "1*14010101*99*99*99*99", "1*14010101*99*99*99*99*99", "1*14010101*99*99*99*99*99*1")
    for full in recruiter:
        ussd(client, "ATUid_browser1", full)
    for full in ("", *URGENT_STEPS):
        ussd(client, "ATUid_browser2", full, phone="+85512345679")
    run_worker(services)
    with services.Session() as db:
        numbers = {r.type: r.number for r in db.scalars(select(Report))}
    assert set(numbers) == {"recruiter", "urgent"}
    return numbers


# ------------------------------------------------------------------ helpers


def wait(driver, condition, timeout: float = WAIT):
    return WebDriverWait(driver, timeout).until(condition)


def submit(driver, element) -> None:
    """Click a button or link and wait until the next page has replaced this one and loaded.
    While the page changes, the driver may answer with errors other than 'stale': those mean
    'not yet', so the wait retries on them."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def replaced(d) -> bool:
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return d.execute_script("return document.readyState") == "complete"
        return False

    WebDriverWait(driver, WAIT, ignored_exceptions=(WebDriverException,)).until(replaced)


def heading(driver) -> str:
    return wait(driver, EC.visibility_of_element_located((By.TAG_NAME, "h1"))).text


def form(driver, action: str):
    """The form posting to a path ending in `action`."""
    return driver.find_element(By.CSS_SELECTOR, f"form[action$='{action}']")


def sign_in(driver, base: str, username: str, one_time: str) -> None:
    """From /console/ through sign-in and the forced password change to the reports list."""
    driver.get(f"{base}/console/")
    wait(driver, EC.url_contains("/console/login"))
    assert heading(driver) == "Sign in"
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(one_time)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    assert driver.current_url.endswith("/console/password")
    assert "one-time password" in driver.find_element(By.TAG_NAME, "main").text
    driver.find_element(By.ID, "current").send_keys(one_time)
    driver.find_element(By.ID, "new").send_keys(NEW_PASSWORD)
    driver.find_element(By.ID, "repeat").send_keys(NEW_PASSWORD)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    assert driver.current_url.rstrip("/").endswith("/console")
    assert heading(driver).startswith("Reports")
    assert "Password changed." in driver.find_element(By.CSS_SELECTOR, ".flash").text


def listed_numbers(driver) -> list[str]:
    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "table.list tbody a[href*='/console/reports/']")]


def timeline(driver) -> list[str]:
    return [li.text for li in driver.find_elements(By.CSS_SELECTOR, "ol.timeline li")]


def screenshot(driver, tmp_path: Path, name: str) -> Path:
    """A PNG of the window (1280×1024) in tmp_path, copied to $HOTLINE_SCREENSHOTS when that is set."""
    path = tmp_path / f"{name}.png"
    assert driver.save_screenshot(str(path))
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("HOTLINE_SCREENSHOTS"):
        target = Path(os.environ["HOTLINE_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / path.name)
        assert (target / path.name).stat().st_size == path.stat().st_size
    return path


def console_problems(driver) -> list[str]:
    """Browser console entries that are errors or CSP violations (a missing favicon is fine)."""
    problems = []
    for entry in driver.get_log("browser"):
        message = entry.get("message", "")
        if "favicon.ico" in message:
            continue
        if entry.get("level") == "SEVERE" or "Content Security Policy" in message or "Refused to" in message:
            problems.append(f"{entry.get('level')}: {message}")
    return problems


# ------------------------------------------------------------------ tests


def test_caseworker_follows_up_a_report(browser, live_server, services, reports, tmp_path):
    one_time = create_user(services, "ngo-cw", "caseworker", AGENCY)
    sign_in(browser, live_server, "ngo-cw", one_time)
    listed = listed_numbers(browser)
    assert reports["recruiter"] in listed and reports["urgent"] not in listed

    # Filter with the form's own controls (folded away until asked for, so a phone sees the list first).
    browser.find_element(By.CSS_SELECTOR, "details.filters-box summary").click()
    Select(browser.find_element(By.NAME, "type")).select_by_value("recruiter")
    Select(browser.find_element(By.NAME, "status")).select_by_value("new")
    submit(browser, browser.find_element(By.XPATH, "//form[contains(@class,'filters')]//button[normalize-space()='Filter']"))
    assert "type=recruiter" in browser.current_url and "status=new" in browser.current_url
    assert Select(browser.find_element(By.NAME, "type")).first_selected_option.get_attribute("value") == "recruiter"
    assert Select(browser.find_element(By.NAME, "status")).first_selected_option.get_attribute("value") == "new"
    assert listed_numbers(browser) == [reports["recruiter"]]

    # Open it.
    number = reports["recruiter"]
    submit(browser, browser.find_element(By.LINK_TEXT, number))
    assert browser.current_url.endswith(f"/console/reports/{number}")
    assert number in heading(browser)
    assert browser.find_element(By.CSS_SELECTOR, "h1 .status").text == "new"
    assert "may be contacted" in browser.find_element(By.TAG_NAME, "main").text
    # The status form offers only the moves allowed from "new", the natural next one first.
    offered = [o.get_attribute("value") for o in Select(form(browser, "/status").find_element(By.NAME, "status")).options]
    assert offered == ["acknowledged", "in_progress", "referred", "closed"]

    # Assign it to oneself.
    assign = form(browser, "/assign")
    Select(assign.find_element(By.NAME, "user")).select_by_visible_text("ngo-cw")
    submit(browser, assign.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert any("assigned" in line and "→ ngo-cw" in line for line in timeline(browser))
    assert "ngo-cw" in browser.find_element(By.XPATH, "//dt[.='Assigned to']/following-sibling::dd[1]").text

    # Change its status, with a note.
    status = form(browser, "/status")
    Select(status.find_element(By.NAME, "status")).select_by_value("in_progress")
    status.find_element(By.NAME, "note").send_keys("called the commune chief")
    submit(browser, status.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert browser.find_element(By.CSS_SELECTOR, "h1 .status").text == "in progress"
    assert any("status changed" in line and "→ in progress" in line and "called the commune chief" in line
               for line in timeline(browser))
    offered = [o.get_attribute("value") for o in Select(form(browser, "/status").find_element(By.NAME, "status")).options]
    assert offered == ["referred", "closed"]

    # Message the reporter (their number stays hidden).
    reply = form(browser, "/reply")
    reply.find_element(By.NAME, "text").send_keys("Thank you, we are following this up.")
    submit(browser, reply.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert any("message sent" in line and "Thank you, we are following this up." in line for line in timeline(browser))
    assert "user:ngo-cw" in browser.find_element(By.CSS_SELECTOR, "ol.timeline").text
    assert REPORTER not in browser.page_source and REPORTER[4:] not in browser.page_source
    screenshot(browser, tmp_path, "report")

    # The worker sends the reply through the console provider.
    run_worker(services)
    with services.Session() as db:
        relay = db.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "relay")).one()
        assert relay.status == "delivered" and relay.provider == "console"
        assert services.vault.decrypt(relay.recipient) == REPORTER
        assert "Thank you, we are following this up." in relay.body
        assert db.scalars(select(Report.status).where(Report.number == number)).one() == "in_progress"

    # The dashboard, through the header's link.
    submit(browser, browser.find_element(By.LINK_TEXT, "Dashboard"))
    assert browser.current_url.endswith("/console/dashboard")
    assert heading(browser).startswith("Dashboard")
    assert browser.find_elements(By.CSS_SELECTOR, "section.chart svg"), "the charts are inline SVG"
    screenshot(browser, tmp_path, "dashboard")
    assert console_problems(browser) == []


def test_viewer_cannot_see_follow_up_forms(browser, live_server, services, reports):
    one_time = create_user(services, "ngo-viewer", "viewer", AGENCY)
    sign_in(browser, live_server, "ngo-viewer", one_time)
    assert reports["recruiter"] in listed_numbers(browser) and reports["urgent"] not in listed_numbers(browser)
    browser.get(f"{live_server}/console/reports/{reports['recruiter']}")
    assert reports["recruiter"] in heading(browser)
    main = browser.find_element(By.TAG_NAME, "main")
    assert "Follow up" not in main.text and "Change status" not in main.text
    for action in ("/assign", "/status", "/notes", "/reply", "/reveal"):
        assert browser.find_elements(By.CSS_SELECTOR, f"form[action$='{action}']") == [], action
    assert browser.find_element(By.CSS_SELECTOR, "ol.timeline li")  # the report itself is readable
    assert console_problems(browser) == []


def test_simulator_dials_the_line(browser, live_server):
    browser.get(f"{live_server}/simulator/")
    assert "phone simulator" in heading(browser)
    wait(browser, EC.text_to_be_present_in_element((By.ID, "screen-body"), "Dial"))  # the script ran
    entry = browser.find_element(By.ID, "entry")
    entry.clear()
    entry.send_keys("*384*123#")
    call = browser.find_element(By.ID, "send")
    assert call.text == "Call"
    call.click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "screen-body"), "1 "))
    screen = browser.find_element(By.ID, "screen-body").text
    assert "2 " in screen and "Connection problem" not in screen
    wait(browser, EC.text_to_be_present_in_element((By.ID, "send"), "Send"))  # a session is open: answers go next
    assert console_problems(browser) == []


def test_simulator_calls_the_line_and_answers_by_keypad(browser, live_server):
    browser.get(f"{live_server}/simulator/")
    wait(browser, EC.text_to_be_present_in_element((By.ID, "screen-body"), "Dial"))
    Select(browser.find_element(By.ID, "mode")).select_by_value("call")
    wait(browser, EC.text_to_be_present_in_element((By.ID, "screen-body"), "Press Call"))
    call = browser.find_element(By.ID, "send")
    assert call.text == "Call"
    call.click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "screen-body"), "For Someone in danger now, press 3."))
    browser.find_element(By.CSS_SELECTOR, '.key.digit[data-key="3"]').click()      # one key: sent at once
    wait(browser, EC.text_to_be_present_in_element((By.ID, "screen-body"), "Call 1 1 7 or 1 2 8 8 now."))
    for key in "14010101#":                                                         # a code, ended with #
        browser.find_element(By.CSS_SELECTOR, f'.key.digit[data-key="{key}"]').click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "screen-body"), "May someone call you back"))
    browser.find_element(By.ID, "end").click()
    wait(browser, EC.text_to_be_present_in_element((By.ID, "screen-body"), "You hung up."))
    assert console_problems(browser) == []


def test_simulator_page_keeps_to_the_csp(browser, live_server):
    browser.get(f"{live_server}/simulator/")
    wait(browser, EC.text_to_be_present_in_element((By.ID, "screen-body"), "Dial"))
    assert console_problems(browser) == []


def test_emergency_reveal_and_sign_out_everywhere(browser, live_server, services, reports, tmp_path):
    import requests

    one_time = create_user(services, "duty-admin", "admin")            # line staff
    sign_in(browser, live_server, "duty-admin", one_time)
    number = reports["urgent"]                                         # its reporter was never asked about contact
    browser.get(f"{live_server}/console/reports/{number}")

    def reveal(reason: str, emergency: bool) -> None:
        browser.find_element(By.CSS_SELECTOR, "details.vault summary").click()
        vault = form(browser, "/reveal")
        assert "did not agree to be contacted" in vault.text
        vault.find_element(By.NAME, "reason").send_keys(reason)
        if emergency:
            vault.find_element(By.NAME, "emergency").click()
        submit(browser, vault.find_element(By.CSS_SELECTOR, "button[type=submit]"))

    reveal("she called from a locked room", emergency=False)           # the box left unticked: refused
    assert "only in an emergency" in browser.find_element(By.CSS_SELECTOR, ".flash.error").text
    assert "+85512345679" not in browser.page_source
    reveal("she called from a locked room", emergency=True)
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "+85512345679" in main and "Emergency override" in main
    browser.get(f"{live_server}/console/reports/{number}")
    assert any("number revealed" in line and "emergency override" in line for line in timeline(browser))
    screenshot(browser, tmp_path, "emergency-reveal")

    # A copy of this browser's session cookie works, until the browser signs out everywhere.
    copy = requests.Session()
    copy.headers["User-Agent"] = browser.execute_script("return navigator.userAgent")
    copy.cookies.set("session", browser.get_cookie("session")["value"])
    assert copy.get(f"{live_server}/console/", allow_redirects=False, timeout=10).status_code == 200
    submit(browser, browser.find_element(By.XPATH, "//button[normalize-space()='Sign out everywhere']"))
    assert "/console/login" in browser.current_url
    assert "signed out everywhere" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    answer = copy.get(f"{live_server}/console/", allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and "/console/login" in answer.headers["Location"]
    assert console_problems(browser) == []


PHONE = (360, 740)
"""A small phone's screen, in CSS pixels."""


def fits_the_width(driver) -> tuple[int, int]:
    """(the page's scroll width, the window's client width): the page scrolls sideways if the first is larger."""
    return driver.execute_script("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")


def test_report_list_and_report_page_fit_a_360_px_phone(browser, live_server, services, reports, tmp_path):
    one_time = create_user(services, "phone-admin", "admin")             # line staff: every form and table
    sign_in(browser, live_server, "phone-admin", one_time)
    number = reports["recruiter"]
    browser.get(f"{live_server}/console/reports/{number}")             # a tag and a note make it fuller
    tag = form(browser, "/tags")
    tag.find_element(By.NAME, "tag").send_keys("follow-up-friday")
    submit(browser, tag.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    note = form(browser, "/notes")
    note.find_element(By.NAME, "note").send_keys("A long note without spaces: " + "x" * 120)
    submit(browser, note.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    browser.set_window_size(*PHONE)
    try:
        assert browser.execute_script("return window.innerWidth") == PHONE[0]
        pages = {"list": "/console/", "list-filtered": "/console/?view=all&type=recruiter&tag=follow-up-friday",
                 "report": f"/console/reports/{number}", "urgent-report": f"/console/reports/{reports['urgent']}",
                 "dashboard": "/console/dashboard", "users": "/console/users", "audit": "/console/audit",
                 "directory": "/console/directory", "dead-letters": "/console/dead-letters"}
        widths = {}
        for name, path in pages.items():
            browser.get(live_server + path)
            heading(browser)
            widths[name] = fits_the_width(browser)
            screenshot(browser, tmp_path, f"phone-{name}")
        assert all(scroll <= client for scroll, client in widths.values()), widths
        browser.get(f"{live_server}/console/")
        assert number in listed_numbers(browser) and "follow-up-friday" in browser.find_element(By.TAG_NAME, "main").text
    finally:
        browser.set_window_size(1280, 1024)
    assert console_problems(browser) == []


def test_report_page_reads_in_local_time_and_words_and_says_why_a_delivery_failed(browser, live_server, services,
                                                                                  reports, tmp_path):
    one_time = create_user(services, "ngo-reader", "caseworker", AGENCY)
    sign_in(browser, live_server, "ngo-reader", one_time)
    browser.get(f"{live_server}/console/reports/{reports['recruiter']}")
    main = browser.find_element(By.TAG_NAME, "main").text
    received = browser.find_element(By.XPATH, "//dt[.='Received']/following-sibling::dd[1]").text
    assert received.split(" · ")[0].endswith(" +07")                   # Asia/Phnom_Penh, named
    assert browser.find_element(By.XPATH, "//dt[.='Type']/following-sibling::dd[1]").text == "worrying job offer"
    assert browser.find_element(By.XPATH, "//dt[.='Place']/following-sibling::dd[1]").text.startswith(
        "Angkrong › Boeng Preah › Ba Phnum › Prey Veng")
    assert "recruiter" not in main.replace("recruiter_", "")            # no type code anywhere on the page
    alerts = {row.find_element(By.CSS_SELECTOR, "td:nth-child(1)").text: row.text
              for row in browser.find_elements(By.CSS_SELECTOR, "table.alerts tbody tr")}
    webhook = next(text for text in alerts.values() if "webhook" in text)
    assert "webhook secret NGO_WEBHOOK_SECRET is not set" in webhook and "not tried again" in webhook
    leader = alerts["Sok Dara (fictional)"]
    assert "1 (village)" in leader and "delivered" in leader
    assert all(line.split(" ")[2] == "+07" for line in (t.text for t in browser.find_elements(By.CSS_SELECTOR, "ol.timeline time")))
    assert "user:ngo-reader" in browser.find_element(By.XPATH, "//h2[.='Opened by']/..").text
    screenshot(browser, tmp_path, "report-words")
    assert console_problems(browser) == []


def test_an_admin_changes_disables_and_resets_an_account(browser, live_server, services, tmp_path):
    one_time = create_user(services, "ngo-boss", "admin", AGENCY)       # an agency's admin
    create_user(services, "ngo-helper", "caseworker", AGENCY)
    sign_in(browser, live_server, "ngo-boss", one_time)
    submit(browser, browser.find_element(By.LINK_TEXT, "Users"))
    submit(browser, browser.find_element(By.LINK_TEXT, "ngo-helper"))
    assert heading(browser).startswith("Account ngo-helper")
    change = browser.find_element(By.CSS_SELECTOR, "form[action$='/users/ngo-helper']")
    assert [o.get_attribute("value") for o in Select(change.find_element(By.NAME, "agency")).options] == [AGENCY]
    Select(change.find_element(By.NAME, "language")).select_by_value("km")
    Select(change.find_element(By.NAME, "role")).select_by_value("viewer")
    submit(browser, change.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "changed" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    submit(browser, form(browser, "/disable").find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "disabled" in browser.find_element(By.CSS_SELECTOR, "h1 .status").text
    submit(browser, form(browser, "/enable").find_element(By.CSS_SELECTOR, "button[type=submit]"))
    submit(browser, form(browser, "/reset").find_element(By.CSS_SELECTOR, "button[type=submit]"))
    one_time_again = browser.find_element(By.CSS_SELECTOR, ".flash.ok code").text
    assert len(one_time_again) >= 16
    screenshot(browser, tmp_path, "account")
    with services.Session() as db:
        from hotline.models import AuditEntry, User

        helper = db.scalars(select(User).where(User.username == "ngo-helper")).one()
        actions = [e.action for e in db.scalars(select(AuditEntry).where(AuditEntry.target == "ngo-helper").order_by(AuditEntry.id))]
    assert (helper.role, helper.language, helper.active, helper.must_change_password) == ("viewer", "km", True, True)
    assert actions == ["user.create", "user.update", "user.disable", "user.enable", "user.reset"]
    assert console_problems(browser) == []
