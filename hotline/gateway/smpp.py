"""One SMPP 3.4 connection, the SMSC's end: reads whole PDUs on a thread of its own, hands each
request to a handler, matches responses to the requests it sent, and writes under a lock.

PDUs are encoded and parsed by smpplib (pinned in requirements-dev.txt)."""
from __future__ import annotations

import itertools
import socket
import struct
import threading
from typing import Callable

from smpplib import consts
from smpplib.smpp import make_pdu, parse_pdu

RESPONSE_WAIT = 5.0
"""Seconds to wait for the peer's response to a request."""
HEADER = struct.Struct(">LLLL")
"""command_length, command_id, command_status, sequence_number."""


class NoAnswer(RuntimeError):
    """The peer did not respond to a request in time."""


class Connection:
    """A bound (or binding) ESME such as Kannel's bearerbox, seen from the SMSC."""

    def __init__(self, sock: socket.socket, on_request: Callable[["Connection", object], None],
                 on_close: Callable[["Connection"], None]):
        self.sock, self._on_request, self._on_close = sock, on_request, on_close
        self.receiver = self.transmitter = False
        """What the bind allows: deliver_sm to it (receiver), submit_sm from it (transmitter)."""
        self._sequence = itertools.count(1)
        self._write_lock = threading.Lock()
        self._waiting: dict[int, tuple[threading.Event, list]] = {}
        self.thread = threading.Thread(target=self._run, name="smpp-connection", daemon=True)

    def next_sequence(self) -> int:
        """smpplib asks its 'client' for the sequence number of each request it builds."""
        return next(self._sequence)

    def request(self, name: str, timeout: float = RESPONSE_WAIT, **fields) -> int:
        """Send a request PDU and wait for its response's command_status."""
        pdu = make_pdu(name, client=self, **fields)
        done, result = threading.Event(), []
        self._waiting[pdu.sequence] = (done, result)
        self._send(pdu)
        if not done.wait(timeout):
            self._waiting.pop(pdu.sequence, None)
            raise NoAnswer(f"no answer to {name} within {timeout} s")
        return result[0]

    def respond(self, pdu, status: int = consts.SMPP_ESME_ROK, **fields) -> None:
        """Send the response to a request PDU (its name + '_resp', its sequence number)."""
        self._send(make_pdu(pdu.command + "_resp", client=self, sequence=pdu.sequence, status=status, **fields))

    def nack(self, sequence: int, status: int = consts.SMPP_ESME_RINVCMDID) -> None:
        """generic_nack: a command this end does not offer or could not read (SMPP 3.4, 4.3)."""
        self._send(make_pdu("generic_nack", client=self, sequence=sequence, status=status))

    def close(self) -> None:
        """Close the socket; the reading thread ends on it."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _send(self, pdu) -> None:
        data = pdu.generate()
        with self._write_lock:
            self.sock.sendall(data)

    def _run(self) -> None:
        try:
            while (data := self._read()) is not None:
                self._handle(data)
        except OSError:
            pass
        finally:
            self._on_close(self)
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

    def _handle(self, data: bytes) -> None:
        try:
            pdu = parse_pdu(data, client=self, allow_unknown_opt_params=True)
        except Exception:  # a command smpplib does not know
            self.nack(HEADER.unpack(data[:16])[3])
            return
        if not pdu.is_response():
            self._on_request(self, pdu)
        elif waiting := self._waiting.pop(pdu.sequence, None):
            waiting[1].append(pdu.status)
            waiting[0].set()
