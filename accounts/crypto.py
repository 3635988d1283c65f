"""Encryption at rest for secrets that must be read back: TOTP secrets,
recovery-code seeds and OAuth tokens.

MultiFernet over ``settings.FERNET_KEYS`` (newest first): values are always
encrypted with the newest key and decrypted with whichever key made them, so a
new key can be put in front, ``rotate_encryption_keys`` run, and the old key
dropped, without losing anything.
"""

from __future__ import annotations

import functools
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed


class DecryptionError(Exception):
    """The value was not made by any key in ``FERNET_KEYS`` (or was tampered with)."""


@functools.cache
def _keys() -> tuple[Fernet, ...]:
    keys = [key.strip() for key in settings.FERNET_KEYS if key.strip()]
    if not keys:
        raise ImproperlyConfigured("FERNET_KEYS must name at least one key.")
    return tuple(Fernet(key) for key in keys)


def _fernet() -> MultiFernet:
    return MultiFernet(list(_keys()))


def _forget_keys(*, setting: str, **kwargs: Any) -> None:
    if setting == "FERNET_KEYS":
        _keys.cache_clear()


setting_changed.connect(_forget_keys)


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise DecryptionError("value cannot be decrypted with any of FERNET_KEYS") from error


def is_encrypted(value: str) -> bool:
    """Whether ``value`` is a token made by one of our keys (not plain text)."""
    try:
        decrypt(value)
    except DecryptionError:
        return False
    return True


def is_current(token: str) -> bool:
    """Whether ``token`` is already encrypted under the newest key."""
    try:
        _keys()[0].decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(token: str) -> str:
    """The same plain text, encrypted under the newest key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise DecryptionError("value cannot be decrypted with any of FERNET_KEYS") from error
