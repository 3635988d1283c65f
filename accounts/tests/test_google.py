"""Google sign-in. Only Google's own HTTP endpoints (token, userinfo, certificates) are faked."""

from __future__ import annotations

import datetime
import json
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import responses
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.test import Client

from accounts import crypto
from accounts.oauth_tokens import social_token_read
from accounts.tests.conftest import AppClient

pytestmark = pytest.mark.django_db

CLIENT_ID = "ebookvoice-test.apps.googleusercontent.com"
TOKEN_URL = "https://oauth2.googleapis.com/token"
USERINFO_URL = "https://www.googleapis.com/oauth2/v2/userinfo"
CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"


@pytest.fixture(autouse=True)
def google_client(settings):
    providers = json.loads(json.dumps(settings.SOCIALACCOUNT_PROVIDERS))
    providers["google"]["APPS"] = [{"client_id": CLIENT_ID, "secret": "test-secret", "key": ""}]
    settings.SOCIALACCOUNT_PROVIDERS = providers


def id_token(email: str, *, sub: str = "10769150350006150715113082367", key=None, kid: str = "") -> str:
    claims = {
        "iss": "https://accounts.google.com",
        "aud": CLIENT_ID,
        "sub": sub,
        "email": email,
        "email_verified": True,
        "given_name": "Ada",
        "family_name": "Reader",
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    if key is None:
        return jwt.encode(claims, "not checked: it came straight from Google over TLS", algorithm="HS256")
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def signed_in_email(client) -> str | None:
    user = client.get("/").wsgi_request.user
    return user.email if user.is_authenticated else None


def sign_in_with_google(browser: Client, token_response: dict, userinfo: dict | None = None) -> None:
    start = browser.post("/accounts/google/login/")
    assert start["Location"].startswith("https://accounts.google.com/o/oauth2/v2/auth")
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    with responses.RequestsMock() as google:
        google.post(TOKEN_URL, json=token_response)
        if userinfo is not None:
            google.get(USERINFO_URL, json=userinfo)
        response = browser.get("/accounts/google/login/callback/", {"state": state, "code": "auth-code"})
    assert response.status_code == 302, response.content


def test_a_newcomer_signs_up_with_google_and_the_address_counts_as_verified():
    browser = Client()
    sign_in_with_google(
        browser, {"access_token": "ya29.a", "expires_in": 3599, "id_token": id_token("ada@example.com")}
    )

    assert signed_in_email(browser) == "ada@example.com"
    assert EmailAddress.objects.get(email="ada@example.com").verified
    assert SocialAccount.objects.get(provider="google").user.email == "ada@example.com"


def test_google_sign_in_reads_the_userinfo_endpoint_when_there_is_no_id_token():
    browser = Client()
    userinfo = {"id": "1234", "email": "ada@example.com", "verified_email": True, "name": "Ada"}
    sign_in_with_google(browser, {"access_token": "ya29.a", "expires_in": 3599}, userinfo)
    assert signed_in_email(browser) == "ada@example.com"


def test_google_signs_in_to_the_existing_account_with_that_address(reader):
    browser = Client()
    sign_in_with_google(
        browser, {"access_token": "ya29.a", "expires_in": 3599, "id_token": id_token(reader.email)}
    )
    assert signed_in_email(browser) == reader.email
    assert SocialAccount.objects.get().user == reader


def test_google_tokens_when_kept_are_stored_encrypted(settings):
    settings.SOCIALACCOUNT_STORE_TOKENS = True
    sign_in_with_google(
        Client(),
        {"access_token": "ya29.secret", "refresh_token": "1//refresh", "expires_in": 3599,
         "id_token": id_token("ada@example.com")},
    )  # fmt: skip
    token = SocialToken.objects.get()
    assert "ya29.secret" not in token.token
    assert crypto.is_encrypted(token.token)
    assert social_token_read(token) == ("ya29.secret", "1//refresh")


def test_google_is_offered_on_the_sign_in_page_only_when_configured(client, settings):
    assert b"/accounts/google/login/" in client.get("/accounts/login/").content
    settings.SOCIALACCOUNT_PROVIDERS = {"google": {"APPS": []}}
    assert b"/accounts/google/login/" not in client.get("/accounts/login/").content


def google_certificate() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.google.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM).decode()


def app_google_login(app: AppClient, credential: str):
    token = {"client_id": CLIENT_ID, "id_token": credential}
    return app.post("/auth/provider/token", {"provider": "google", "process": "login", "token": token})


def test_an_app_signs_in_with_a_google_id_token_checked_against_googles_certificates():
    key, certificate = google_certificate()
    app = AppClient()
    with responses.RequestsMock() as google:
        google.get(CERTS_URL, json={"kid-1": certificate})
        response = app_google_login(app, id_token("ada@example.com", key=key, kid="kid-1"))
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["user"]["email"] == "ada@example.com"
    assert app.get("/api/v1/me").json()["email_verified"] is True


def test_an_app_with_a_forged_google_id_token_is_refused():
    _key, certificate = google_certificate()
    forger, _ = google_certificate()
    app = AppClient()
    with responses.RequestsMock() as google:
        google.get(CERTS_URL, json={"kid-1": certificate})
        response = app_google_login(app, id_token("ada@example.com", key=forger, kid="kid-1"))
    assert response.status_code == 400
    assert app.session_token is None
    assert not SocialAccount.objects.exists()
