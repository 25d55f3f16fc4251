"""The keyring alone: tokens, key ids, `KASSA_SECRET_KEY`, the key file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kassa.store.keyring import (
    Keyring,
    KeyringError,
    SecretKeyMissing,
    is_token,
    key_id,
    new_key,
    token_key_id,
)

SECRET = "sbx_sk_the-payers-money"


def test_a_token_names_its_key_and_decrypts_to_the_secret() -> None:
    key = new_key()
    keyring = Keyring([key])
    token = keyring.encrypt(SECRET, key_id(key))
    assert token.startswith(f"enc1:{key_id(key)}:")
    assert SECRET not in token
    assert is_token(token)
    assert not is_token(SECRET)
    assert token_key_id(token) == key_id(key) == keyring.newest_id
    assert keyring.decrypt(token) == SECRET
    assert keyring.encrypt(SECRET, key_id(key)) != token  # a fresh IV every time


def test_any_key_decrypts_and_the_first_is_the_newest() -> None:
    old, new = new_key(), new_key()
    both = Keyring.configured(f" {new} , {old} ", Path("/nonexistent"))
    assert both.ids == (key_id(new), key_id(old))
    assert not both.from_file
    token = Keyring([old]).encrypt(SECRET, key_id(old))
    assert both.decrypt(token) == SECRET


def test_a_missing_key_is_named_and_nothing_secret_is_said() -> None:
    mine, theirs = new_key(), new_key()
    token = Keyring([theirs]).encrypt(SECRET, key_id(theirs))
    with pytest.raises(SecretKeyMissing) as missing:
        Keyring([mine]).decrypt(token)
    message = str(missing.value)
    assert missing.value.key_id == key_id(theirs)
    assert f"encrypted with key {key_id(theirs)}" in message
    assert "KASSA_SECRET_KEY" in message
    assert not any(secret in message for secret in (mine, theirs, SECRET))


def test_an_altered_token_is_refused() -> None:
    key = new_key()
    keyring = Keyring([key])
    token = keyring.encrypt(SECRET, key_id(key))
    flipped = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(KeyringError, match="altered or damaged"):
        keyring.decrypt(flipped)
    with pytest.raises(KeyringError, match="should be encrypted"):
        keyring.decrypt(SECRET)


def test_a_malformed_secret_key_is_refused_without_echoing_it() -> None:
    bad = "my-favourite-password"
    with pytest.raises(KeyringError) as refused:
        Keyring.configured(f"{new_key()},{bad}", Path("/nonexistent"))
    assert "key 2 is not a Kassa key" in str(refused.value)
    assert bad not in str(refused.value)


def test_the_key_file_is_made_once_private_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    first, second = Keyring([], key_file=path), Keyring([], key_file=path)
    assert first.ids == second.ids == ()
    assert not path.exists()  # made only when a key is needed
    made = first.newest_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Another process that found no file either takes the one made first, not a key of its own.
    assert second.newest_id == made
    assert Keyring.configured("", path).ids == (made,)
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temporary left


def test_a_new_key_in_the_file_is_found_by_other_keyrings_on_it(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    rotating, other = Keyring([], key_file=path), Keyring([], key_file=path)
    old = rotating.newest_id
    assert other.decrypt(rotating.encrypt(SECRET, old)) == SECRET  # made after `other` read
    new = rotating.add_key()
    assert rotating.ids == (new, old)
    token = rotating.encrypt(SECRET, new)
    assert other.decrypt(token) == SECRET  # read the file again for the unknown key
    assert rotating.keep_only(new) == [old]
    assert Keyring([], key_file=path).ids == (new,)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(KeyringError, match="cannot change"):
        Keyring([new_key()]).add_key()
