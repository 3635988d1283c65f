"""Encryption at rest with MultiFernet, and the whole key-rotation sequence."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from allauth.socialaccount.models import SocialAccount, SocialToken
from cryptography.fernet import Fernet
from django.core.management import call_command

from accounts import crypto
from accounts.oauth_tokens import social_token_read

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
TOTP_SECRET = "JBSWY3DPEHPK3PXP"


def seed_secrets_under(reader) -> list[str]:
    """A TOTP secret, recovery codes and an OAuth token, all stored under the current key."""
    TOTP.activate(reader, TOTP_SECRET)
    codes = RecoveryCodes.activate(reader).generate_codes()
    account = SocialAccount.objects.create(user=reader, provider="google", uid="1")
    SocialToken.objects.create(account=account, token="ya29.access", token_secret="1//refresh")
    return codes


def stored_values() -> list[str]:
    totp = Authenticator.objects.get(type="totp").data["secret"]
    seed = Authenticator.objects.get(type="recovery_codes").data["seed"]
    token = SocialToken.objects.get()
    return [totp, seed, token.token, token.token_secret]


def everything_decrypts(codes: list[str]) -> bool:
    totp = Authenticator.objects.get(type="totp")
    recovery = Authenticator.objects.get(type="recovery_codes")
    return (
        crypto.decrypt(totp.data["secret"]) == TOTP_SECRET
        and RecoveryCodes(recovery).generate_codes() == codes
        and social_token_read(SocialToken.objects.get()) == ("ya29.access", "1//refresh")
    )


def test_values_encrypt_under_the_newest_key_and_decrypt_under_any(settings):
    settings.FERNET_KEYS = [OLD_KEY]
    token = crypto.encrypt("secret")
    settings.FERNET_KEYS = [NEW_KEY, OLD_KEY]
    assert crypto.decrypt(token) == "secret"
    assert not crypto.is_current(token)
    assert crypto.is_current(crypto.encrypt("secret"))
    settings.FERNET_KEYS = [NEW_KEY]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_keys_rotate_without_losing_anything(settings, reader, capsys):
    settings.FERNET_KEYS = [OLD_KEY]
    codes = seed_secrets_under(reader)
    before = stored_values()
    assert TOTP_SECRET not in before
    assert "ya29.access" not in before

    # 1. Put the new key first: old values still decrypt, new ones use the new key.
    settings.FERNET_KEYS = [NEW_KEY, OLD_KEY]
    assert everything_decrypts(codes)

    # 2. Rotate: every value is re-encrypted under the new key.
    call_command("rotate_encryption_keys")
    assert capsys.readouterr().out.strip() == (
        "Re-encrypted 4 values under the newest key; 0 were already under it."
    )
    assert all(crypto.is_current(value) for value in stored_values())

    # 3. Running it again changes nothing.
    call_command("rotate_encryption_keys")
    assert "Re-encrypted 0 values" in capsys.readouterr().out

    # 4. Drop the old key: everything still decrypts.
    settings.FERNET_KEYS = [NEW_KEY]
    assert everything_decrypts(codes)


def test_rotation_stops_and_changes_nothing_when_a_value_cannot_be_decrypted(settings, reader):
    settings.FERNET_KEYS = [OLD_KEY]
    seed_secrets_under(reader)
    before = stored_values()
    settings.FERNET_KEYS = [NEW_KEY]  # the old key was dropped too early
    with pytest.raises(crypto.DecryptionError):
        call_command("rotate_encryption_keys")
    assert stored_values() == before
