"""Passwords kept only as argon2 hashes: admin users' and club customers'.

Hashing and checking a password takes tens of milliseconds of CPU and 64 MiB of memory on
purpose (argon2id's defaults), so both run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
#: Checked against when a name is unknown, so a wrong name takes as long as a wrong password.
DECOY_HASH = _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def password_matches(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (hash it again)."""
    return _hasher.check_needs_rehash(password_hash)
