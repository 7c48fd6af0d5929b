"""A local SMSC that Kannel binds to over real SMPP 3.4 on loopback: phones send MO through it,
it records every MT (submit_sm) Kannel sends, and it sends delivery receipts when told to.

PDUs are encoded and parsed by smpplib (pinned in requirements-dev.txt); the SMSC side of the
protocol (answering binds, submit_sm, enquire_link, unbind) is this module's."""
from __future__ import annotations

import itertools
import socket
import struct
import threading
import time
from dataclasses import asdict, dataclass

from smpplib import consts
from smpplib.smpp import make_pdu, parse_pdu

from hotline.gateway import encoding
from hotline.gateway.encoding import Part

LOOPBACK = "127.0.0.1"
SYSTEM_ID = "hotline-smsc"
"""What this SMSC calls itself in bind responses."""
RESPONSE_WAIT = 5.0
"""Seconds to wait for Kannel's answer to a deliver_sm."""
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


class Session:
    """One TCP connection from Kannel: reads PDUs on its own thread, answers them, writes under a lock."""

    def __init__(self, smsc: "SMSC", sock: socket.socket):
        self.smsc, self.sock = smsc, sock
        self.receiver = self.transmitter = False
        self._sequence = itertools.count(1)
        self._write_lock = threading.Lock()
        self._waiting: dict[int, tuple[threading.Event, list]] = {}
        self.thread = threading.Thread(target=self._run, name="smsc-session", daemon=True)

    def next_sequence(self) -> int:
        """smpplib asks its 'client' for sequence numbers of the requests it builds."""
        return next(self._sequence)

    def send(self, pdu) -> None:
        """Write one PDU."""
        data = pdu.generate()
        with self._write_lock:
            self.sock.sendall(data)

    def request(self, name: str, timeout: float = RESPONSE_WAIT, **fields) -> int:
        """Send a request PDU and wait for its response's command_status."""
        pdu = make_pdu(name, client=self, **fields)
        done, result = threading.Event(), []
        self._waiting[pdu.sequence] = (done, result)
        self.send(pdu)
        if not done.wait(timeout):
            self._waiting.pop(pdu.sequence, None)
            raise SMSCError(f"no answer to {name} within {timeout} s")
        return result[0]

    def close(self) -> None:
        """Close the socket; the reading thread ends on it."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _read(self) -> bytes | None:
        """One whole PDU, or None when the peer closed."""
        header = self._exactly(4)
        if header is None:
            return None
        (length,) = struct.unpack(">L", header)
        body = self._exactly(length - 4)
        return None if body is None else header + body

    def _exactly(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _run(self) -> None:
        try:
            while (data := self._read()) is not None:
                self._handle(data)
        except OSError:
            pass
        finally:
            self.smsc._forget(self)
            self.sock.close()

    def _respond(self, pdu, name: str, status: int = consts.SMPP_ESME_ROK, **fields) -> None:
        self.send(make_pdu(name, client=self, sequence=pdu.sequence, status=status, **fields))

    def _handle(self, data: bytes) -> None:
        """Answer one PDU from Kannel."""
        try:
            pdu = parse_pdu(data, client=self, allow_unknown_opt_params=True)
        except Exception:  # an unknown command: generic_nack, as SMPP 3.4 section 4.3 says
            (sequence,) = struct.unpack(">L", data[12:16])
            self.send(make_pdu("generic_nack", client=self, sequence=sequence, status=consts.SMPP_ESME_RINVCMDID))
            return
        if pdu.is_response():
            waiting = self._waiting.pop(pdu.sequence, None)
            if waiting:
                waiting[1].append(pdu.status)
                waiting[0].set()
        elif pdu.command in BINDS:
            ok = self.smsc.accepts(pdu.system_id, pdu.password)
            if ok:
                self.receiver, self.transmitter = BINDS[pdu.command]
            self._respond(pdu, pdu.command + "_resp", consts.SMPP_ESME_ROK if ok else consts.SMPP_ESME_RINVPASWD,
                          system_id=SYSTEM_ID)
        elif pdu.command == "enquire_link":
            self._respond(pdu, "enquire_link_resp")
        elif pdu.command == "unbind":
            self._respond(pdu, "unbind_resp")
            self.close()
        elif pdu.command == "submit_sm":
            if not self.transmitter:
                self._respond(pdu, "submit_sm_resp", consts.SMPP_ESME_RINVBNDSTS)
                return
            status, message_id = self.smsc._submitted(pdu)
            self._respond(pdu, "submit_sm_resp", status, message_id=message_id)
        else:
            self._respond(pdu, "generic_nack", consts.SMPP_ESME_RINVCMDID)


class SMSC:
    """An SMPP server on loopback playing an operator's SMSC, for Kannel's `smsc = smpp`."""

    def __init__(self, system_id: str, password: str, *, host: str = LOOPBACK, port: int = 0):
        self.system_id, self.password = system_id, password
        self._listener = socket.create_server((host, port))
        self.host, self.port = self._listener.getsockname()[:2]
        self._sessions: list[Session] = []
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
        """Close every session and the listener."""
        try:  # wakes the thread blocked in accept(); close() alone leaves the port listening on Linux
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for session in list(self._sessions):
            session.close()

    def __enter__(self) -> "SMSC":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def accepts(self, system_id: bytes, password: bytes) -> bool:
        """Whether a bind's credentials are this SMSC's account."""
        return (system_id or b"").decode("latin-1") == self.system_id and \
            (password or b"").decode("latin-1") == self.password

    def bound(self) -> bool:
        """Whether some bound session can receive deliver_sm (a receiver or transceiver)."""
        return any(s.receiver for s in list(self._sessions))

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
        session = next((s for s in list(self._sessions) if s.receiver), None)
        if session is None:
            raise SMSCError("Kannel is not bound to the SMSC as a receiver or transceiver")
        return session.request("deliver_sm", timeout, service_type="", **fields)

    def _submitted(self, pdu) -> tuple[int, str]:
        """Record a submit_sm; the command_status and message_id to answer it with."""
        with self._lock:
            if self._rejections:
                return self._rejections.pop(0), ""
            message_id = f"{next(self._ids):X}"
            data = pdu.short_message or b""
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
            session = Session(self, sock)
            with self._lock:
                self._sessions.append(session)
            session.thread.start()

    def _forget(self, session: Session) -> None:
        with self._lock:
            if session in self._sessions:
                self._sessions.remove(session)


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
