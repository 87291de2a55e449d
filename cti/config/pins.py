"""Agent PINs, stored only as salted PBKDF2-SHA256 hashes.

Format of a stored hash (one string, four ``$``-separated fields)::

    pbkdf2_sha256$<iterations>$<salt_hex>$<hash_hex>

``iterations`` is a decimal integer (at least :data:`MIN_ITERATIONS`),
``salt_hex`` 16 random bytes and ``hash_hex`` the 32-byte derived key, both
lower-case hex.  Make one with
``python -c "from cti.config import hash_pin; print(hash_pin('1234'))"``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

SCHEME = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 600_000
MIN_ITERATIONS = 100_000
_SALT_BYTES = 16
_KEY_BYTES = 32

PIN_HASH_PATTERN = r"^pbkdf2_sha256\$[0-9]{6,9}\$[0-9a-f]{32}\$[0-9a-f]{64}$"
_PIN_HASH = re.compile(PIN_HASH_PATTERN)
_PIN = re.compile(r"^[0-9]{4,12}$")


def _derive(pin: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations, _KEY_BYTES)


def hash_pin(pin: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    """Hash a PIN (4 to 12 digits) into the stored format.

    ``salt`` is random unless given (tests give one to get a fixed output).
    Raises ``ValueError`` for a PIN that is not 4-12 digits or too few iterations.
    """
    if not _PIN.match(pin):
        raise ValueError("a PIN is 4 to 12 digits")
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"at least {MIN_ITERATIONS} iterations")
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    if len(salt) != _SALT_BYTES:
        raise ValueError(f"the salt is {_SALT_BYTES} bytes")
    return f"{SCHEME}${iterations}${salt.hex()}${_derive(pin, salt, iterations).hex()}"


def check_pin_hash(encoded: str) -> str:
    """Return ``encoded`` if it is a well-formed stored hash, else raise ``ValueError``."""
    if not _PIN_HASH.match(encoded):
        raise ValueError("pin_hash must be pbkdf2_sha256$<iterations>$<32 hex salt>$<64 hex hash>")
    iterations = int(encoded.split("$")[1])
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"pin_hash uses {iterations} iterations; at least {MIN_ITERATIONS}")
    return encoded


def verify_pin(pin: str, encoded: str) -> bool:
    """True when ``pin`` matches the stored hash; constant-time comparison.

    A malformed stored hash verifies nothing (returns False).
    """
    try:
        check_pin_hash(encoded)
    except ValueError:
        return False
    _, iterations, salt_hex, key_hex = encoded.split("$")
    derived = _derive(pin, bytes.fromhex(salt_hex), int(iterations))
    return hmac.compare_digest(derived, bytes.fromhex(key_hex))
