"""Reporter phone numbers at rest: Fernet-encrypted, found again by a keyed hash."""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken


class Vault:
    """Encrypts and hashes phone numbers with the deployment's HOTLINE_DATA_KEY."""

    def __init__(self, data_key: str):
        raw = base64.urlsafe_b64decode(data_key.encode())
        self._fernet = Fernet(data_key.encode())
        # A separate sub-key for hashing, so the hash never reveals the encryption key.
        self._hash_key = hmac.new(raw, b"hotline phone lookup v1", hashlib.sha256).digest()
        # Identifiers reports name (a recruiter's number) get a key of their own: their hashes never equal a
        # reporter's, so the two tables cannot be joined to tell which reporter's number others named.
        self._identifier_key = hmac.new(raw, b"hotline identifier lookup v1", hashlib.sha256).digest()

    def encrypt(self, phone: str) -> bytes:
        """Encrypt an E.164 number for storage."""
        return self._fernet.encrypt(phone.encode())

    def decrypt(self, token: bytes) -> str | None:
        """Decrypt a stored number; None when the token is not ours."""
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except (InvalidToken, TypeError, ValueError):
            return None

    def lookup_hash(self, phone: str) -> str:
        """Keyed hash of an E.164 number: stable lookups without storing the number."""
        return hmac.new(self._hash_key, phone.encode(), hashlib.sha256).hexdigest()

    def identifier_hash(self, kind: str, value: str) -> str:
        """Keyed hash of an identifier a report names (a number in E.164, a name in key form), by kind."""
        return hmac.new(self._identifier_key, f"{kind}\n{value}".encode(), hashlib.sha256).hexdigest()
