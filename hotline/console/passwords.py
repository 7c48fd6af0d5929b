"""Staff passwords: hashed and checked here and nowhere else.

werkzeug's scrypt (n=2**15, r=8, p=1) costs about a tenth of a second a hash on purpose, so a
stolen table of hashes is slow to guess from. `check` reads the method from the stored hash, so
hashes made with another method keep working.
"""
from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

METHOD = "scrypt"
"""How new passwords are hashed. Only the test suite changes it (tests/conftest.py), to a cheap
method that would be unsafe here: one test checks that this is what the line ships."""


def make(password: str) -> str:
    """The hash to store for a password."""
    return generate_password_hash(password, method=METHOD)


def check(stored: str, password: str) -> bool:
    """Whether a password matches a stored hash (compared in constant time)."""
    return check_password_hash(stored, password)
