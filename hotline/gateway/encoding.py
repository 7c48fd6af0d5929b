"""SMS text as an SMSC carries it over SMPP: GSM 03.38 (one septet a byte) or UCS-2, split with a UDH."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

DC_DEFAULT = 0
"""data_coding 0: the SMSC's default alphabet, GSM 03.38 unpacked (one septet per octet) on SMPP."""
DC_LATIN1 = 3
"""data_coding 3: ISO-8859-1."""
DC_UCS2 = 8
"""data_coding 8: UCS-2, written as UTF-16BE."""

GSM_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
             "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
"""GSM 03.38 default alphabet, indexed by septet (0x1B is the escape to the extension table)."""
GSM_ESCAPE = 0x1B
GSM_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~", 0x3E: "]",
                 0x40: "|", 0x65: "€"}
"""GSM 03.38 extension table: each of these costs two septets (escape, code)."""

SINGLE_LIMIT = {DC_DEFAULT: 160, DC_LATIN1: 140, DC_UCS2: 140}
"""Octets of user data one SMS holds, per data_coding (GSM: septets, unpacked)."""
PART_LIMIT = {DC_DEFAULT: 153, DC_LATIN1: 134, DC_UCS2: 134}
"""Octets of text each part of a concatenated SMS holds, once the 6-octet UDH is counted."""
UDH_CONCAT = b"\x05\x00\x03"
"""UDH length 5, information element 0 (concatenation, 8-bit reference), its length 3."""

assert len(GSM_BASIC) == 128

_GSM_ENCODE = {ch: bytes([i]) for i, ch in enumerate(GSM_BASIC) if i != GSM_ESCAPE}
_GSM_ENCODE.update({ch: bytes([GSM_ESCAPE, code]) for code, ch in GSM_EXTENSION.items()})
_references = itertools.count(1)


def gsm_encode(text: str) -> bytes:
    """Text as unpacked GSM 03.38 septets; UnicodeEncodeError for a character outside it."""
    try:
        return b"".join(_GSM_ENCODE[ch] for ch in text)
    except KeyError as exc:
        raise UnicodeEncodeError("gsm03.38", text, 0, len(text), f"{exc.args[0]!r} is not in GSM 03.38") from None


def gsm_decode(data: bytes) -> str:
    """Unpacked GSM 03.38 septets as text (an unknown escape reads as a space, as handsets show it)."""
    out, escaped = [], False
    for octet in data:
        if escaped:
            out.append(GSM_EXTENSION.get(octet, " "))
            escaped = False
        elif octet == GSM_ESCAPE:
            escaped = True
        else:
            out.append(GSM_BASIC[octet & 0x7F])
    return "".join(out)


def encode(text: str, data_coding: int) -> bytes:
    """Text in the octets a given data_coding means."""
    if data_coding == DC_DEFAULT:
        return gsm_encode(text)
    if data_coding == DC_UCS2:
        return text.encode("utf-16-be")
    if data_coding == DC_LATIN1:
        return text.encode("latin-1")
    raise ValueError(f"data_coding {data_coding} is not text this simulator writes")


def decode(data: bytes, data_coding: int) -> str:
    """Octets of a short message as text, read as its data_coding says (8-bit binary as Latin-1)."""
    if data_coding == DC_UCS2:
        return data.decode("utf-16-be", errors="replace")
    if data_coding == DC_DEFAULT or data_coding & 0xF0 == 0xF0:
        return gsm_decode(data)
    if data_coding == 1:
        return data.decode("ascii", errors="replace")
    return data.decode("latin-1")


def coding_for(text: str) -> int:
    """The data_coding a real SMSC picks: GSM 03.38 when every character is in it, else UCS-2."""
    try:
        gsm_encode(text)
    except UnicodeEncodeError:
        return DC_UCS2
    return DC_DEFAULT


def split(text: str, data_coding: int) -> list[bytes]:
    """The short_message of each SMS carrying text: one without a UDH, or several each with a UDH."""
    whole = encode(text, data_coding)
    if len(whole) <= SINGLE_LIMIT[data_coding]:
        return [whole]
    chunks, current = [], b""
    for ch in text:  # character by character, so neither a GSM escape nor a surrogate pair is cut
        octets = encode(ch, data_coding)
        if len(current) + len(octets) > PART_LIMIT[data_coding]:
            chunks.append(current)
            current = b""
        current += octets
    chunks.append(current)
    if len(chunks) > 255:
        raise ValueError("a message of more than 255 parts cannot be concatenated")
    reference = next(_references) % 256
    return [UDH_CONCAT + bytes([reference, len(chunks), i]) + chunk for i, chunk in enumerate(chunks, 1)]


@dataclass(frozen=True)
class Part:
    """Where a short message sits in a concatenated one (reference, total, number), from its UDH."""

    reference: int
    total: int
    number: int


def parse_udh(short_message: bytes) -> tuple[Part | None, bytes]:
    """The concatenation part a UDH names (if any) and the text after the UDH."""
    length = short_message[0] + 1
    udh, rest = short_message[1:length], short_message[length:]
    i = 0
    while i + 1 < len(udh):
        iei, size = udh[i], udh[i + 1]
        value = udh[i + 2:i + 2 + size]
        if iei == 0x00 and size == 3:
            return Part(value[0], value[1], value[2]), rest
        if iei == 0x08 and size == 4:  # 16-bit reference
            return Part(value[0] << 8 | value[1], value[2], value[3]), rest
        i += 2 + size
    return None, rest
