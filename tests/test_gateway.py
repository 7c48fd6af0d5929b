"""The SMPP path through the real Kannel (bearerbox and smsbox) and the local SMSC simulator: an MO
from a phone reaches a stand-in for the line's /webhooks/kannel/sms with the contract's fields and its
exact text; a sendsms call reaches the SMSC as submit_sm and its receipt comes back on the dlr-url;
and the failures the line must tell apart answer as docs/channels.md says.

Kannel is started by the `kannel_stack` fixture (conftest.py): skipped when Kannel is not installed,
except under CI, where that fails."""
from __future__ import annotations

import itertools
import json
import queue
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hotline.gateway import encoding, kannel, kannelconf
from hotline.gateway.encoding import Part

SHORT_CODE = "1700"
WAIT = 10.0
"""Seconds any one call from Kannel may take to arrive."""
QUIET = 0.5
"""Seconds to watch for a call that must not come."""
ACCEPTED = ("0: Accepted for delivery", "3: Queued for later delivery")
"""sendsms's 202 bodies (docs/contract.md, section 3)."""
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
KHMER = "ខ្ញុំ\u200bត្រូវការ\u200bជំនួយ"
"""'I need help', words parted by U+200B (zero-width space) as Khmer is written."""
_phones = itertools.count(1)


def new_phone() -> str:
    """A sender no other test uses, so each test finds its own calls."""
    return f"+8551200{next(_phones):04d}"


# ------------------------------------------------------------------ the stand-in line


@dataclass
class Call:
    """One HTTP request Kannel made to the line."""

    method: str
    path: str
    query: str
    body: bytes
    content_type: str

    def fields(self) -> dict[str, bytes]:
        """The query's fields as raw bytes (an un-recoded UCS-2 message is UTF-16BE, not UTF-8)."""
        return {k: v.encode("latin-1") for k, v in urllib.parse.parse_qsl(self.query, encoding="latin-1")}

    def field(self, name: str) -> str:
        return self.fields().get(name, b"").decode("utf-8")


def line_text(fields: dict[str, bytes]) -> str:
    """The message's text decoded exactly as docs/contract.md tells the line to: UTF-8, unless charset
    names UTF-16BE/UCS-2, or coding=2 comes without a charset; then UTF-16BE."""
    charset = fields.get("charset", b"").decode().upper().replace("-", "")
    if charset in ("UTF16BE", "UCS2") or (not charset and fields.get("coding") == b"2"):
        return fields["message"].decode("utf-16-be", errors="replace")
    return fields["message"].decode("utf-8", errors="replace")


class StandInLine:
    """A loopback HTTP server playing the line's Kannel webhooks: records each call and answers 200
    with an empty body, or the statuses queued in `answers`."""

    def __init__(self):
        self.calls: queue.Queue[Call] = queue.Queue()
        self.answers: list[int] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def expect(self, where, timeout: float = WAIT) -> Call:
        """The next call for which where(call) is true; others are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                call = self.calls.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"Kannel made no such call within {timeout} s") from None
            if where(call):
                return call

    def none(self, where, timeout: float = QUIET) -> None:
        """Assert that no call for which where(call) is true arrives within `timeout`."""
        with pytest.raises(AssertionError):
            self.expect(where, timeout)

    def _handler(self):
        line = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path, _, query = self.path.partition("?")
                line.calls.put(Call(self.command, path, query, body, self.headers.get("Content-Type", "")))
                self.send_response(line.answers.pop(0) if line.answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _record  # noqa: N815

            def log_message(self, *args):
                pass

        return Handler


def mo_from(phone: str):
    return lambda call: call.path == "/webhooks/kannel/sms" and call.field("sender") == phone


def dlr_of(message: str):
    return lambda call: call.path == "/webhooks/kannel/status" and call.field("id") == message


@pytest.fixture(scope="module")
def line():
    stand_in = StandInLine()
    yield stand_in
    stand_in.server.shutdown()


@pytest.fixture(scope="module")
def stacks(kannel_stack, line):
    """Stacks by their options, started on first use and shared by the module."""
    started = {}

    def get(**options):
        key = tuple(sorted(options.items()))
        if key not in started:
            started[key] = kannel_stack(line.url, short_code=SHORT_CODE, **options)
        return started[key]

    return get


@pytest.fixture
def stack(stacks):
    """The stack as the line's operators run it: get-url, mo-recode on. Its SMSC's record starts empty."""
    running = stacks()
    running.smsc.clear()
    return running


# ------------------------------------------------------------------ MO: a phone texts the line

MO_TEXTS = [
    ("english", "STATUS 1234567"),
    ("gsm-extension", "@£$¥èé_ {}[]~^|€\\"),
    ("khmer", KHMER),
    ("khmer-3-parts", "ក" * 150),
]


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("text", [t for _, t in MO_TEXTS], ids=[n for n, _ in MO_TEXTS])
def test_an_mo_reaches_the_line_with_the_contracts_fields_and_its_exact_text(stacks, line, method, text):
    stack = stacks(mo_method=method)
    phone = new_phone()
    statuses = stack.send_mo(phone, text)
    assert statuses == [0] * len(statuses)
    call = line.expect(mo_from(phone))
    fields = call.fields()
    assert call.method == method.upper()
    assert UUID.match(call.field("id"))
    assert (call.field("to"), call.field("token")) == (SHORT_CODE, stack.token)
    assert abs(int(call.field("ts")) - time.time()) < 60
    # mo-recode: UCS-2 (Khmer) arrives recoded to UTF-8, so every message is coding=0 and UTF-8.
    assert (call.field("coding"), call.field("charset")) == ("0", "UTF-8")
    assert line_text(fields) == text
    if method == "post":  # the body is Kannel's raw copy of the text, in the charset its Content-Type names
        assert call.content_type == 'text/plain; charset="UTF-8"'
        assert call.body.decode("utf-8") == text


@pytest.mark.parametrize("address,ton,sender", [
    ("85512000999", 1, "+85512000999"),  # international: Kannel adds the '+'
    ("012000999", 2, "012000999"),  # national: as the SMSC sent it
    ("85512000998", 0, "85512000998"),  # unknown: as the SMSC sent it
])
def test_the_sender_arrives_as_the_smsc_numbers_it(stack, line, address, ton, sender):
    stack.send_mo(address, "HELP", sender_ton=ton)
    assert line.expect(mo_from(sender)).field("sender") == sender


def test_an_mo_in_several_parts_reaches_the_line_once(stack, line):
    phone = new_phone()
    assert stack.send_mo(phone, "ក" * 150) == [0, 0, 0]
    assert line_text(line.expect(mo_from(phone)).fields()) == "ក" * 150
    line.none(mo_from(phone))


def test_percent_a_collapses_blanks_where_the_post_body_keeps_them(stacks, line):
    stack, phone = stacks(mo_method="post"), new_phone()
    stack.send_mo(phone, " two  spaces\nand a line ")
    call = line.expect(mo_from(phone))
    assert line_text(call.fields()) == "two spaces and a line"
    assert call.body == b" two  spaces\nand a line "


def test_without_mo_recode_khmer_arrives_as_utf16be_and_percent_a_breaks_it_at_zero_width_spaces(stacks, line):
    stack = stacks(mo_recode=False, mo_method="post")
    phone = new_phone()
    stack.send_mo(phone, "សួស្តី បង")
    call = line.expect(mo_from(phone))
    assert (call.field("coding"), call.field("charset")) == ("2", "UTF-16BE")
    assert call.content_type == 'text/plain; charset="UTF-16BE"'
    assert line_text(call.fields()) == "សួស្តី បង"
    stack.send_mo(phone, KHMER)
    call = line.expect(mo_from(phone))
    # %a splits the raw octets at the 0x20 0x0B of U+200B as if they were blanks: the text is lost.
    assert line_text(call.fields()) != KHMER
    assert call.body.decode("utf-16-be") == KHMER


def test_a_failed_call_is_lost_without_http_request_retry_and_never_answered_by_sms(stacks, line):
    once = stacks(http_request_retry=0)
    once.smsc.clear()
    phone = new_phone()
    line.answers[:] = [500]
    once.send_mo(phone, "hello")
    line.expect(mo_from(phone))
    line.none(mo_from(phone))
    assert once.smsc.submitted() == []  # no "Request Failed" SMS to the phone: max-messages = 0


def test_http_request_retry_calls_again_with_the_same_id(stacks, line):
    retrying = stacks(http_request_retry=2, http_queue_delay=1)
    phone = new_phone()
    line.answers[:] = [503]
    retrying.send_mo(phone, "hello again")
    first = line.expect(mo_from(phone))
    started = time.monotonic()
    again = line.expect(mo_from(phone), timeout=3)
    assert again.field("id") == first.field("id") and 0.5 < time.monotonic() - started < 2.5
    line.none(mo_from(phone))


# ------------------------------------------------------------------ MT: the line sends through sendsms

MT_ROWS = [  # name, text, extra sendsms parameters, data_coding at the SMSC
    ("english", "Your report number is 1234567", {}, encoding.DC_DEFAULT),
    ("gsm-extension", "Reply {OK} [1] ~ € \\ ^ |", {}, encoding.DC_DEFAULT),
    ("khmer", "លេខ\u200bរបាយការណ៍ ១២៣៤៥៦៧", {"coding": "2", "charset": "UTF-8"}, encoding.DC_UCS2),
    # courier's way: the text already UTF-16BE, coding=2 and no charset
    ("khmer-utf16be", "លេខ\u200bរបាយការណ៍", {"coding": "2", "as_utf16be": True}, encoding.DC_UCS2),
]
RECEIPTS = [  # stat: in the receipt's text, with (True) or without the message_state TLV; the dlr-url's status
    ("DELIVRD", True, "1"), ("DELIVRD", False, "1"), ("UNDELIV", True, "2"), ("REJECTD", False, "2"),
    ("DELETED", True, "2"), ("UNKNOWN", True, "2"),
    # Kannel 1.4.5's DLR_EXPIRED is 0x20|DLR_FAIL: an expired message_state is 34, whatever dlr-mask says.
    ("EXPIRED", True, "34"), ("EXPIRED", False, "2"),
]
_messages = itertools.count(1)


def send(stack, line, text, **extra):
    """sendsms as the line does it, with dlr-mask=27 and a dlr-url naming a fresh message id."""
    message = f"m{next(_messages)}"
    dlr_url = f"{line.url}/webhooks/kannel/status?token={stack.token}&id={message}&status=%d"
    if extra.pop("as_utf16be", False):
        text = text.encode("utf-16-be")
    status, body = stack.sendsms("+85512345678", text, dlr_mask="27", dlr_url=dlr_url, **extra)
    return message, status, body


@pytest.mark.parametrize("text,extra,data_coding", [r[1:] for r in MT_ROWS], ids=[r[0] for r in MT_ROWS])
def test_sendsms_reaches_the_smsc_as_submit_sm(stack, line, text, extra, data_coding):
    message, status, body = send(stack, line, text, **extra)
    assert (status, body) == (202, "0: Accepted for delivery")
    [mt] = stack.smsc.wait_submitted(1)
    assert (mt.destination, mt.dest_ton, mt.source) == ("85512345678", 1, SHORT_CODE)
    assert (mt.data_coding, mt.text, mt.registered_delivery, mt.part) == (data_coding, text, 1, None)
    assert line.expect(dlr_of(message)).field("status") == "8"  # accepted by the SMSC: submit_sm_resp


@pytest.mark.parametrize("stat,tlvs,dlr_status", RECEIPTS)
def test_a_receipt_makes_kannel_call_the_dlr_url(stack, line, stat, tlvs, dlr_status):
    message, _, _ = send(stack, line, "receipt please")
    [mt] = stack.smsc.wait_submitted(1)
    assert line.expect(dlr_of(message)).field("status") == "8"
    assert stack.smsc.send_receipt(mt.message_id, stat, tlvs=tlvs) == 0
    call = line.expect(dlr_of(message))
    assert (call.method, call.field("status"), call.field("token")) == ("GET", dlr_status, stack.token)


def test_a_submit_sm_the_smsc_rejects_is_dlr_16(stack, line):
    stack.smsc.reject_next()
    message, status, _ = send(stack, line, "to nowhere")
    assert status == 202  # sendsms answers before the SMSC does
    assert line.expect(dlr_of(message)).field("status") == "16"


def test_a_long_khmer_text_goes_in_parts_with_one_dlr(stack, line):
    text = "ក" * 150
    message, status, _ = send(stack, line, text, coding="2", charset="UTF-8")
    assert status == 202
    parts = stack.smsc.wait_submitted(3)
    assert [(p.data_coding, p.part.number, p.part.total) for p in parts] == [(8, 1, 3), (8, 2, 3), (8, 3, 3)]
    assert [p.registered_delivery for p in parts] == [1, 0, 0]  # Kannel asks a receipt of the first part only
    from hotline.gateway.smsc import join_parts

    assert join_parts(parts) == [text]
    assert line.expect(dlr_of(message)).field("status") == "8"
    line.none(dlr_of(message))  # once for the message, not per part
    for part in parts:
        stack.smsc.send_receipt(part.message_id)
    assert line.expect(dlr_of(message)).field("status") == "1"
    line.none(dlr_of(message))


def test_a_text_longer_than_max_messages_is_cut_silently(stack, line):
    _, status, _ = send(stack, line, "ក" * 250, coding="2", charset="UTF-8")
    assert status == 202
    time.sleep(QUIET)
    parts = stack.smsc.submitted()
    assert len(parts) == 3 and sum(len(p.text) for p in parts) == 3 * 67


def test_khmer_without_coding_2_reaches_phones_as_question_marks(stack, line):
    send(stack, line, "សួស្តី")
    [mt] = stack.smsc.wait_submitted(1)
    assert (mt.data_coding, mt.text) == (0, "??????")


# ------------------------------------------------------------------ failures the line tells apart


@pytest.mark.parametrize("change,status,body", [
    ({"password": "wrong"}, 403, "Authorization failed for sendsms"),
    ({"username": "nobody"}, 403, "Authorization failed for sendsms"),
    ({"to": ""}, 400, "Empty receiver number not allowed, rejected"),
])
def test_sendsms_refusals_are_4xx(stack, change, status, body):
    to = change.pop("to", "+85512345678")
    assert stack.sendsms(to, "hello", **change) == (status, body)
    time.sleep(0.1)
    assert stack.smsc.submitted() == []


def test_smsc_down_is_queued_and_smsbox_down_is_refused(kannel_stack, line):
    stack = kannel_stack(line.url, short_code=SHORT_CODE)  # a stack of its own, stopped here
    stack.smsc.stop()
    deadline = time.monotonic() + WAIT
    while stack.kannel.status().get("smsc", "").startswith("online") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.sendsms("+85512345678", "later") == (202, "3: Queued for later delivery")
    stack.kannel.stop()
    with pytest.raises(ConnectionRefusedError):
        try:
            stack.sendsms("+85512345678", "nobody home")
        except urllib.error.URLError as exc:
            raise exc.reason


def test_a_refused_bind_fails_the_start_at_once_with_the_logs(kannel_stack, tmp_path):
    from hotline.gateway.smsc import SMSC

    with SMSC("hotline", "right") as smsc:
        config = kannelconf.KannelConfig(smsc_port=smsc.port, smsc_system_id="hotline", smsc_password="wrong",
                                     mo_url="http://127.0.0.1:9/webhooks/kannel/sms")
        started = time.monotonic()
        with pytest.raises(kannel.KannelError, match=r"(?s)refused Kannel's bind.*Invalid Password"):
            kannel.Kannel(config, tmp_path).start()
        assert time.monotonic() - started < 5


# ------------------------------------------------------------------ docs/kannel.conf, as operators use it

DOCS_CONF = Path(__file__).resolve().parent.parent / "docs" / "kannel.conf"


def filled_in(text: str, values: dict[str, object], replacements: dict[str, str]) -> str:
    """docs/kannel.conf with each `key = value` line's value replaced, and placeholders replaced."""
    for key, value in values.items():
        text, count = re.subn(rf"^{re.escape(key)} = .*$", f"{key} = {value}", text, flags=re.M)
        assert count == 1, f"docs/kannel.conf should set {key} once"
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def test_docs_kannel_conf_runs_and_wires_the_line_as_the_contract_says(kannel_stack, line, tmp_path):
    from hotline.gateway.smsc import SMSC

    with SMSC("aggregator1", "secret8c") as smsc:
        config = kannelconf.KannelConfig(smsc_port=smsc.port, smsc_system_id="aggregator1",
                                     smsc_password="secret8c", mo_url="unused")
        text = filled_in(DOCS_CONF.read_text(encoding="utf-8"), {
            "admin-port": config.admin_port, "smsbox-port": config.smsbox_port,
            "bearerbox-port": config.smsbox_port, "sendsms-port": config.sendsms_port,
            "admin-password": f'"{config.admin_password}"', "status-password": '"status-pw"',
            "password": f'"{config.sendsms_password}"',
            "host": '"127.0.0.1"', "port": smsc.port, "smsc-username": '"aggregator1"',
            "smsc-password": '"secret8c"', "reconnect-delay": 1,
        }, {"/var/log/kannel/": f"{tmp_path}/", "/var/spool/kannel/": f"{tmp_path}/",
            "https://CHANGE-ME.line.example.org": line.url, "CHANGE-ME-webhook-token": "docs-token"})
        (tmp_path / "store").mkdir()
        assert not [ln for ln in text.splitlines() if "CHANGE-ME" in ln and not ln.startswith("#")]
        gateway = kannel.Kannel(config, tmp_path, text)
        try:
            gateway.start()
        except kannel.KannelError as exc:
            pytest.fail(f"docs/kannel.conf does not run: {exc}")
        try:
            smsc.wait_bound()
            phone = new_phone()
            smsc.send_mo(phone, KHMER, SHORT_CODE)
            call = line.expect(mo_from(phone))
            assert (call.field("token"), call.field("to"), call.field("coding"), call.field("charset")) == \
                ("docs-token", SHORT_CODE, "0", "UTF-8")
            assert line_text(call.fields()) == KHMER
            query = urllib.parse.urlencode({
                "username": "hotline", "password": config.sendsms_password, "from": SHORT_CODE, "to": phone,
                "text": KHMER, "coding": "2", "charset": "UTF-8", "dlr-mask": "27",
                "dlr-url": f"{line.url}/webhooks/kannel/status?token=docs-token&id=docs-1&status=%d"})
            with urllib.request.urlopen(f"{gateway.sendsms_url}?{query}", timeout=WAIT) as answer:
                assert (answer.status, answer.read()) == (202, b"0: Accepted for delivery")
            [mt] = smsc.wait_submitted(1)
            assert (mt.destination, mt.data_coding, mt.text) == (phone[1:], encoding.DC_UCS2, KHMER)
            assert line.expect(dlr_of("docs-1")).field("status") == "8"
            smsc.send_receipt(mt.message_id)
            assert line.expect(dlr_of("docs-1")).field("status") == "1"
        finally:
            gateway.stop()


# ------------------------------------------------------------------ the simulator's HTTP API


def test_the_http_api_sends_an_mo_lists_mts_and_sends_a_receipt(stack, line):
    phone = new_phone()
    answer = _post(stack.api.url + "/mo", {"sender": phone, "text": KHMER})
    assert answer == {"parts": 1, "command_status": [0]}
    assert line_text(line.expect(mo_from(phone)).fields()) == KHMER
    message, _, _ = send(stack, line, "via the api")
    stack.smsc.wait_submitted(1)
    with urllib.request.urlopen(stack.api.url + "/mt", timeout=WAIT) as response:
        [mt] = json.load(response)["messages"]
    assert (mt["text"], mt["data_coding"], mt["destination"]) == ("via the api", 0, "85512345678")
    assert line.expect(dlr_of(message)).field("status") == "8"
    assert _post(stack.api.url + "/receipt", json.dumps({"message_id": mt["message_id"], "stat": "UNDELIV"})) == \
        {"command_status": 0}
    assert line.expect(dlr_of(message)).field("status") == "2"


def test_the_gateway_command_tells_the_operator_every_setting_and_how_to_text(stack, line):
    from hotline.gateway import cli

    said = cli.instructions(stack, line.url, "/tmp/somewhere")
    for name, value in stack.line_env.items():
        assert f"  {name}={value}\n" in said
    assert stack.line_env["KANNEL_SEND_URL"] == stack.kannel.sendsms_url
    assert f"curl -d sender=+85512345678 --data-urlencode 'text=hello' {stack.api.url}/mo" in said
    assert f"{line.url}/webhooks/kannel/sms?token=…" in said and stack.token not in said.split("KANNEL_WEBHOOK")[0]


# ------------------------------------------------------------------ without Kannel


def test_gateway_refuses_clearly_without_kannel(monkeypatch, tmp_path, capsys):
    from hotline.__main__ import main

    monkeypatch.setattr(kannel, "BEARERBOX", tmp_path / "bearerbox")
    assert main(["gateway"]) == 1
    assert "apt-get install kannel kannel-extras" in capsys.readouterr().err


@pytest.mark.parametrize("text,data_coding,parts", [
    ("a" * 160, 0, 1), ("a" * 161, 0, 2), ("€" * 80, 0, 1), ("€" * 81, 0, 2), ("a" * 306, 0, 2), ("a" * 307, 0, 3),
    ("ក" * 70, 8, 1), ("ក" * 71, 8, 2), ("ក" * 134, 8, 2), ("ក" * 135, 8, 3),
])
def test_the_simulator_splits_mo_as_an_smsc_does(text, data_coding, parts):
    assert encoding.coding_for(text) == data_coding
    split = encoding.split(text, data_coding)
    assert len(split) == parts
    if parts == 1:
        assert encoding.decode(split[0], data_coding) == text
        return
    read = [encoding.parse_udh(s) for s in split]
    assert [p for p, _ in read] == [Part(read[0][0].reference, parts, n) for n in range(1, parts + 1)]
    assert "".join(encoding.decode(rest, data_coding) for _, rest in read) == text


def test_gsm_03_38_round_trips_and_refuses_what_it_lacks():
    every = encoding.GSM_BASIC.replace("\x1b", "") + "".join(encoding.GSM_EXTENSION.values())
    assert encoding.gsm_decode(encoding.gsm_encode(every)) == every
    assert encoding.gsm_encode("{") == b"\x1b\x28"
    with pytest.raises(UnicodeEncodeError):
        encoding.gsm_encode("ក")


def test_the_simulator_refuses_a_bind_with_the_wrong_password_and_answers_enquire_link():
    smpplib_client = pytest.importorskip("smpplib.client")
    from smpplib import consts, exceptions
    from smpplib.smpp import make_pdu

    from hotline.gateway.smsc import SMSC

    with SMSC("hotline", "right") as smsc:
        for password, ok in (("wrong", False), ("right", True)):
            client = smpplib_client.Client(smsc.host, smsc.port, timeout=WAIT, allow_unknown_opt_params=True)
            client.connect()
            try:
                if ok:
                    client.bind_transceiver(system_id="hotline", password=password)
                    assert smsc.bound()
                    client.send_pdu(make_pdu("enquire_link", client=client))
                    assert client.read_pdu().command == "enquire_link_resp"
                else:
                    with pytest.raises(exceptions.PDUError) as refused:
                        client.bind_transceiver(system_id="hotline", password=password)
                    assert refused.value.args[1] == consts.SMPP_ESME_RINVPASWD
            finally:
                client.disconnect()


def _post(url: str, data) -> dict:
    body = data.encode() if isinstance(data, str) else urllib.parse.urlencode(data).encode()
    with urllib.request.urlopen(url, data=body, timeout=WAIT) as response:
        return json.load(response)
