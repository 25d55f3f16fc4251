"""The keys Kassa encrypts the secrets in its database with, and the encryption itself.

A stored secret is a token `enc1:<key id>:<Fernet token>`. Fernet (from `cryptography`) is
AES-128-CBC under an HMAC-SHA256, so a token that was altered, or is opened with another key,
fails instead of giving garbage. The key id, the first 8 hex digits of the SHA-256 of the key,
says which key made a token: several keys can be in use at once (during a rotation), and a
missing one can be named without trying every key.

Keys come from `KASSA_SECRET_KEY` (one key, or several separated by commas, the newest first)
or, when it is not set, from the key file `<data dir>/secret.key` (one key a line, the newest
first), which is created with mode 0600 the first time a key is needed. Which key encrypts new
secrets is the database's choice, not the keyring's: see `kassa.services.encryption`.

No message here ever holds a key or a secret.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger(__name__)

PREFIX = "enc1:"
KEY_ID_LENGTH = 8
#: The longest start of a token that names its key: `enc1:<key id>:`.
HEAD_LENGTH = len(PREFIX) + KEY_ID_LENGTH + 1

#: The row of `hub_secrets` that holds this text encrypted under the database's current key.
CHECK_NAME = "key_check"
CHECK_TEXT = "kassa"

_FILE_HEADER = """\
# Kassa's secret key: it encrypts the secrets in Kassa's database (provider credentials,
# webhook signing secrets...). Keep a copy apart from your database backups: without it those
# secrets cannot be read. One key a line; the first is the newest.
"""


class KeyringError(Exception):
    """A key is missing, malformed or cannot be stored, or a stored secret cannot be read."""


class SecretKeyMissing(KeyringError):
    """Stored secrets are encrypted with a key this Kassa does not have."""

    def __init__(self, key_id: str, hint: str) -> None:
        super().__init__(
            f"Kassa's stored secrets were encrypted with key {key_id}, which this Kassa does "
            f"not have: {hint}"
        )
        self.key_id = key_id


def key_id(key: str) -> str:
    """The id of a key: the start of its SHA-256, safe to show and to log."""
    return hashlib.sha256(base64.urlsafe_b64decode(key)).hexdigest()[:KEY_ID_LENGTH]


def new_key() -> str:
    """A new random key, in the form `KASSA_SECRET_KEY` and the key file take."""
    return Fernet.generate_key().decode()


def is_token(value: object) -> bool:
    """Whether `value` is an encrypted secret (as opposed to one stored as it is)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def token_key_id(token: str) -> str:
    """The id of the key that made `token`."""
    if not is_token(token) or token[HEAD_LENGTH - 1 : HEAD_LENGTH] != ":":
        raise KeyringError("A stored secret that should be encrypted is not")
    return token[len(PREFIX) : HEAD_LENGTH - 1]


def _parse(keys: Iterable[str], where: str) -> dict[str, Fernet]:
    parsed: dict[str, Fernet] = {}
    for number, key in enumerate(keys, start=1):
        try:
            fernet = Fernet(key)
        except ValueError:  # binascii.Error, for bad base64, is one too
            raise KeyringError(
                f"{where}: key {number} is not a Kassa key (44 characters of URL-safe base64, "
                "as `kassa secrets generate` prints)"
            ) from None
        parsed.setdefault(key_id(key), fernet)
    return parsed


class Keyring:
    """The keys this Kassa has, newest first: any of them decrypts, and a key id picks the
    one that encrypts. Keys from the key file are read again when a token names a key the
    keyring lacks, so a rotation made by another process on this host is picked up."""

    def __init__(self, keys: Sequence[str], *, key_file: Path | None = None) -> None:
        """`keys` from `KASSA_SECRET_KEY`; or none, and the `key_file` they are kept in."""
        self.key_file = key_file
        self._keys: dict[str, Fernet] = {}
        self._order: list[str] = []
        if key_file is None:
            if not keys:
                raise KeyringError("KASSA_SECRET_KEY holds no key")
            self._set(keys, "KASSA_SECRET_KEY")
        else:
            self._read_file()

    @classmethod
    def configured(cls, secret_key: str | None, key_file: Path) -> Keyring:
        """The keys of `KASSA_SECRET_KEY` (its value `secret_key`) if it is set, else those of
        `key_file` (which need not exist yet)."""
        if secret_key is not None and secret_key.strip():
            return cls([key.strip() for key in secret_key.split(",") if key.strip()])
        return cls((), key_file=key_file)

    @property
    def from_file(self) -> bool:
        return self.key_file is not None

    @property
    def ids(self) -> tuple[str, ...]:
        """The ids of the keys this Kassa has, newest first."""
        return tuple(self._order)

    @property
    def newest_id(self) -> str:
        """The newest key's id; the key file is made first if there is no key yet."""
        if not self._order:
            self._create_file()
        return self._order[0]

    def encrypt(self, plaintext: str, key_id: str) -> str:
        """`plaintext` encrypted under the key `key_id`."""
        fernet = self._fernet(key_id)
        return f"{PREFIX}{key_id}:{fernet.encrypt(plaintext.encode()).decode()}"

    def decrypt(self, token: str) -> str:
        """The secret `token` holds; `SecretKeyMissing` if its key is not here."""
        kid = token_key_id(token)
        try:
            return self._fernet(kid).decrypt(token[HEAD_LENGTH:]).decode()
        except InvalidToken:
            raise KeyringError(
                f"A stored secret under key {kid} does not decrypt: it was altered or damaged"
            ) from None

    def decrypt_values(self, document: dict[str, str]) -> dict[str, str]:
        """`document` with every encrypted value decrypted (others kept as they are)."""
        return {
            name: self.decrypt(value) if is_token(value) else value
            for name, value in document.items()
        }

    def add_key(self) -> str:
        """Put a new key first in the key file, and return its id."""
        path = self._writable_file()
        key = new_key()
        _write(path, [key, *self._file_keys()], replace=True)
        self._read_file()
        return key_id(key)

    def keep_only(self, kept: str) -> list[str]:
        """Remove from the key file every key but `kept`; the ids of those removed."""
        path = self._writable_file()
        keys = self._file_keys()
        kept_keys = [key for key in keys if key_id(key) == kept]
        if not kept_keys:
            raise KeyringError(f"The key file {path} has no key {kept}")
        _write(path, kept_keys[:1], replace=True)
        self._read_file()
        return [key_id(key) for key in keys if key_id(key) != kept]

    def _find(self, kid: str) -> Fernet | None:
        fernet = self._keys.get(kid)
        if fernet is None and self.key_file is not None:
            self._read_file()
            fernet = self._keys.get(kid)
        return fernet

    def _fernet(self, kid: str) -> Fernet:
        fernet = self._find(kid)
        if fernet is None:
            raise SecretKeyMissing(kid, self._hint())
        return fernet

    def _hint(self) -> str:
        if self.key_file is None:
            return "add it to KASSA_SECRET_KEY"
        return f"set KASSA_SECRET_KEY to it, or restore the key file {self.key_file}"

    def _set(self, keys: Sequence[str], where: str) -> None:
        self._keys = _parse(keys, where)
        self._order = list(self._keys)

    def _file_keys(self) -> list[str]:
        assert self.key_file is not None
        try:
            text = self.key_file.read_text()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise KeyringError(
                f"Cannot read the key file {self.key_file}: {exc.strerror}"
            ) from None
        return [
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]

    def _read_file(self) -> None:
        assert self.key_file is not None
        keys = self._file_keys()
        if keys and self.key_file.stat().st_mode & 0o077:
            log.warning("the key file %s can be read by other users: chmod 600 it", self.key_file)
        self._set(keys, f"The key file {self.key_file}")

    def _writable_file(self) -> Path:
        if self.key_file is None:
            raise KeyringError(
                "The keys come from KASSA_SECRET_KEY, which Kassa cannot change: put a new key "
                "first in it (`kassa secrets generate` makes one)"
            )
        return self.key_file

    def _create_file(self) -> None:
        path = self._writable_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        if _write(path, [new_key()], replace=False):
            log.info("made the key file %s: keep a copy, apart from the database backups", path)
        # else another process made it first: its key is the one
        self._read_file()
        if not self._order:
            raise KeyringError(f"The key file {path} holds no key")


def _write(path: Path, keys: Sequence[str], *, replace: bool) -> bool:
    """Write `keys` to `path` (mode 0600) whole or not at all: replacing the file, or only if
    there is none yet. False if there was one and `replace` is not set."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(_FILE_HEADER + "".join(f"{key}\n" for key in keys))
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                return False
        _sync_directory(path.parent)
        return True
    except OSError as exc:
        raise KeyringError(f"Cannot write the key file {path}: {exc.strerror}") from None
    finally:
        temporary.unlink(missing_ok=True)


def _sync_directory(directory: Path) -> None:
    """Make a new or renamed file in `directory` survive a power cut."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
