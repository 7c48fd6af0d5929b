"""A local SMSC that Kannel binds to over real SMPP 3.4 on loopback: phones send MO through it,
it records every MT (submit_sm) Kannel sends, and it sends delivery receipts when told to.
Each connection's framing is hotline.gateway.smpp's; the SMSC's answers are this module's."""
from __future__ import annotations

import itertools
import socket
import threading
import time
from dataclasses import asdict, dataclass

from smpplib import consts

from hotline.gateway import LOOPBACK, encoding
from hotline.gateway.encoding import Part
from hotline.gateway.smpp import RESPONSE_WAIT, Connection, NoAnswer

SYSTEM_ID = "hotline-smsc"
"""What this SMSC calls itself in bind responses."""
ESM_RECEIPT = 0x04
"""esm_class bit 2: this deliver_sm is an SMSC delivery receipt."""
ESM_UDHI = 0x40
"""esm_class bit 6: the short_message begins with a user data header."""
TON_INTERNATIONAL, TON_NATIONAL, TON_UNKNOWN = 1, 2, 0
NPI_E164 = 1
RECEIPT_STATES = {"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6,
                  "UNKNOWN": 7, "REJECTD": 8}
"""The stat: words of a receipt's text, and the message_state TLV each stands for (SMPP 3.4, 5.2.28)."""
BINDS = {"bind_transmitter": (False, True), "bind_receiver": (True, False), "bind_transceiver": (True, True)}
"""Bind command → (may receive deliver_sm, may send submit_sm)."""


class SMSCError(RuntimeError):
    """The simulator could not do what it was asked (no bound receiver, no answer, unknown message)."""


@dataclass(frozen=True)
class Submitted:
    """One submit_sm as the SMSC received it (one part, when Kannel split a long message)."""

    message_id: str
    source: str
    source_ton: int
    destination: str
    dest_ton: int
    data_coding: int
    esm_class: int
    registered_delivery: int
    text: str
    part: Part | None
    received_at: float

    def as_dict(self) -> dict:
        """Plain data, for the HTTP API."""
        return asdict(self)


class SMSC:
    """An SMPP server on loopback playing an operator's SMSC, for Kannel's `smsc = smpp`."""

    def __init__(self, system_id: str, password: str, *, host: str = LOOPBACK, port: int = 0):
        self.system_id, self.password = system_id, password
        self._listener = socket.create_server((host, port))
        self.host, self.port = self._listener.getsockname()[:2]
        self._connections: list[Connection] = []
        self._mts: list[Submitted] = []
        self._lock = threading.Condition()
        self._ids = itertools.count(0x1A2B3C01)
        self._rejections: list[int] = []
        self._thread = threading.Thread(target=self._accept, name="smsc-listener", daemon=True)

    # ------------------------------------------------------------- life
    def start(self) -> "SMSC":
        """Listen for binds on a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close every connection and the listener."""
        try:  # wakes the thread blocked in accept(); close() alone leaves the port listening on Linux
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for connection in list(self._connections):
            connection.close()

    def __enter__(self) -> "SMSC":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def accepts(self, system_id: bytes, password: bytes) -> bool:
        """Whether a bind's credentials are this SMSC's account."""
        return (system_id or b"").decode("latin-1") == self.system_id and \
            (password or b"").decode("latin-1") == self.password

    def bound(self) -> bool:
        """Whether some bound connection can receive deliver_sm (a receiver or transceiver)."""
        return any(c.receiver for c in list(self._connections))

    def wait_bound(self, timeout: float = 10.0) -> None:
        """Wait until Kannel has bound as a receiver or transceiver."""
        deadline = time.monotonic() + timeout
        while not self.bound():
            if time.monotonic() > deadline:
                raise SMSCError(f"Kannel did not bind to the SMSC on port {self.port} within {timeout} s")
            time.sleep(0.05)

    # ------------------------------------------------------------- MO: a phone sends to the short code
    def send_mo(self, sender: str, text: str, to: str, *, data_coding: int | None = None,
                sender_ton: int | None = None, timeout: float = RESPONSE_WAIT) -> list[int]:
        """Deliver what a phone typed as deliver_sm, one per part, as a real SMSC does: GSM 03.38
        (data_coding 0) when every character is in it, else UCS-2 (8, UTF-16BE); a text too long for
        one SMS goes as parts with a concatenation UDH. The sender '+855…' goes as TON 1 without its
        '+', any other as TON 2, unless sender_ton says otherwise. Returns Kannel's command_status per part."""
        coding = encoding.coding_for(text) if data_coding is None else data_coding
        parts = encoding.split(text, coding)
        ton, address = _address(sender)
        ton = ton if sender_ton is None else sender_ton
        statuses = []
        for short_message in parts:
            statuses.append(self._deliver(timeout, source_addr_ton=ton, source_addr_npi=NPI_E164, source_addr=address,
                                          dest_addr_ton=TON_UNKNOWN, dest_addr_npi=NPI_E164, destination_addr=to,
                                          esm_class=ESM_UDHI if len(parts) > 1 else 0, data_coding=coding,
                                          short_message=short_message))
        return statuses

    # ------------------------------------------------------------- MT: what Kannel submitted
    def submitted(self) -> list[Submitted]:
        """Every submit_sm received so far, oldest first."""
        with self._lock:
            return list(self._mts)

    def wait_submitted(self, count: int = 1, timeout: float = 10.0) -> list[Submitted]:
        """The first `count` submit_sm received, waiting for them to arrive."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._mts) >= count, timeout):
                raise SMSCError(f"{len(self._mts)} submit_sm arrived within {timeout} s, not {count}")
            return list(self._mts[:count])

    def clear(self) -> None:
        """Forget the submit_sm received so far."""
        with self._lock:
            self._mts.clear()

    def reject_next(self, status: int = consts.SMPP_ESME_RINVDSTADR) -> None:
        """Answer the next submit_sm with this error command_status (e.g. 0x0B invalid destination)."""
        with self._lock:
            self._rejections.append(status)

    def send_receipt(self, message_id: str, stat: str = "DELIVRD", err: str = "000", *, tlvs: bool = True,
                     timeout: float = RESPONSE_WAIT) -> int:
        """Send the delivery receipt of a submitted message: deliver_sm with esm_class 0x04, the standard
        'id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…' text and (unless tlvs is
        false, as some SMSCs send them) the receipted_message_id and message_state TLVs. Returns
        Kannel's command_status."""
        mt = next((m for m in self.submitted() if m.message_id == message_id), None)
        if mt is None:
            raise SMSCError(f"no submit_sm was answered with message id {message_id!r}")
        if stat not in RECEIPT_STATES:
            raise SMSCError(f"stat must be one of {', '.join(RECEIPT_STATES)}")
        stamp = time.strftime("%y%m%d%H%M", time.gmtime())
        delivered = "001" if stat == "DELIVRD" else "000"
        text = (f"id:{message_id} sub:001 dlvrd:{delivered} submit date:{stamp} done date:{stamp} "
                f"stat:{stat} err:{err} text:{mt.text[:20]}")
        # The receipt travels from the phone back to the sender: addresses swapped, as SMSCs send them.
        return self._deliver(timeout, source_addr_ton=mt.dest_ton, source_addr_npi=NPI_E164,
                             source_addr=mt.destination, dest_addr_ton=mt.source_ton, dest_addr_npi=NPI_E164,
                             destination_addr=mt.source, esm_class=ESM_RECEIPT, data_coding=encoding.DC_DEFAULT,
                             short_message=encoding.gsm_encode(_gsm_safe(text)),
                             **({"receipted_message_id": message_id, "message_state": RECEIPT_STATES[stat]}
                                if tlvs else {}))

    # ------------------------------------------------------------- internals
    def _deliver(self, timeout: float, **fields) -> int:
        connection = next((c for c in list(self._connections) if c.receiver), None)
        if connection is None:
            raise SMSCError("Kannel is not bound to the SMSC as a receiver or transceiver")
        try:
            return connection.request("deliver_sm", timeout, service_type="", **fields)
        except NoAnswer as exc:
            raise SMSCError(str(exc)) from None

    def _on_request(self, connection: Connection, pdu) -> None:
        """Answer one request from Kannel as an SMSC does."""
        if pdu.command in BINDS:
            ok = self.accepts(pdu.system_id, pdu.password)
            if ok:
                connection.receiver, connection.transmitter = BINDS[pdu.command]
            connection.respond(pdu, consts.SMPP_ESME_ROK if ok else consts.SMPP_ESME_RINVPASWD, system_id=SYSTEM_ID)
        elif pdu.command == "enquire_link":
            connection.respond(pdu)
        elif pdu.command == "unbind":
            connection.respond(pdu)
            connection.close()
        elif pdu.command == "submit_sm" and not connection.transmitter:
            connection.respond(pdu, consts.SMPP_ESME_RINVBNDSTS)
        elif pdu.command == "submit_sm":
            status, message_id = self._submitted(pdu)
            connection.respond(pdu, status, message_id=message_id)
        else:  # query_sm, data_sm…: not offered by this SMSC
            connection.nack(pdu.sequence)

    def _submitted(self, pdu) -> tuple[int, str]:
        """Record a submit_sm; the command_status and message_id to answer it with."""
        with self._lock:
            if self._rejections:
                return self._rejections.pop(0), ""
            message_id = f"{next(self._ids):X}"
            data = pdu.short_message or getattr(pdu, "message_payload", None) or b""
            part = None
            if pdu.esm_class & ESM_UDHI:
                part, data = encoding.parse_udh(data)
            self._mts.append(Submitted(
                message_id=message_id, source=_text(pdu.source_addr), source_ton=pdu.source_addr_ton or 0,
                destination=_text(pdu.destination_addr), dest_ton=pdu.dest_addr_ton or 0,
                data_coding=pdu.data_coding or 0, esm_class=pdu.esm_class or 0,
                registered_delivery=pdu.registered_delivery or 0, text=encoding.decode(data, pdu.data_coding or 0),
                part=part, received_at=time.time()))
            self._lock.notify_all()
            return consts.SMPP_ESME_ROK, message_id

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            connection = Connection(sock, self._on_request, self._forget)
            with self._lock:
                self._connections.append(connection)
            connection.thread.start()

    def _forget(self, connection: Connection) -> None:
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)


def join_parts(mts: list[Submitted]) -> list[str]:
    """The whole texts that a list of submit_sm carry, concatenated parts joined in order."""
    texts, groups = [], {}
    for mt in mts:
        if mt.part is None:
            texts.append(mt.text)
            continue
        key = (mt.destination, mt.part.reference, mt.part.total)
        if key not in groups:
            groups[key] = {}
            texts.append(key)
        groups[key][mt.part.number] = mt.text
    return [t if isinstance(t, str) else "".join(groups[t][n] for n in sorted(groups[t])) for t in texts]


def _address(number: str) -> tuple[int, str]:
    """A phone number as SMPP addresses it: international (TON 1) without its '+', else national."""
    return (TON_INTERNATIONAL, number[1:]) if number.startswith("+") else (TON_NATIONAL, number)


def _text(value) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else (value or "")


def _gsm_safe(text: str) -> str:
    """Text with every character outside GSM 03.38 replaced by '?', as receipts quote the message."""
    return "".join(ch if encoding.coding_for(ch) == encoding.DC_DEFAULT else "?" for ch in text)
