"""Every odd input is a 4xx: deep JSON, NUL characters and numbers out of range, on every way in.

A deeply nested body (``[`` × 100,000) made the JSON decoder raise
``RecursionError``, which neither DRF nor allauth headless catches: a 500
without signing in. Nesting is bounded at 64 (``ebookvoice.inputs``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from accounts.tests.conftest import fresh_rate_limits  # noqa: F401
from ebookvoice.inputs import MAX_JSON_DEPTH, InvalidInput, json_loads, parse_float, parse_int
from tests.apiclient import LOGIN, assert_error, person_with_app
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000
JUST_TOO_DEEP = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
NESTED_OBJECTS = '{"a":' * 5000 + "1" + "}" * 5000
NUL_IN_STRING = '{"email": "a\\u0000@example.com", "password": "x"}'
ODD_BODIES = [DEEP, JUST_TOO_DEEP, NESTED_OBJECTS, NUL_IN_STRING, '{"a": NaN}', "\xff\xfe", '{"a": 1e999999}']


def post_raw(client: Client, path: str, body: str | bytes, **headers: str) -> Any:
    return client.post(path, body, content_type="application/json", headers=headers)


# --- The parser ------------------------------------------------------------------------------------


def test_json_nested_as_deep_as_allowed_is_read_and_one_level_more_is_refused():
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert json_loads(ok) is not None
    with pytest.raises(InvalidInput, match="nested more than 64"):
        json_loads(JUST_TOO_DEEP)


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = json.dumps({"note": "[" * 1000 + '\\"{' * 1000})
    assert json_loads(text)["note"].startswith("[[[")


@pytest.mark.parametrize("body", [DEEP, NESTED_OBJECTS, '"\\u0000"', "[Infinity]", "[1,]", b"\xff"])
def test_the_parser_raises_only_invalid_input(body):
    with pytest.raises(InvalidInput):
        json_loads(body)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7", 7), (" 12 ", 12), ("-1", None), ("\u00b2", None), ("\u0663", None), ("1e3", None),
     ("99999999999999999999999", None), ("2147483648", None), ("", None), (None, None)],
)  # fmt: skip
def test_integers_are_ascii_digits_within_the_columns_range(text, expected):
    assert parse_int(text, low=0, high=2**31 - 1) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("73.26", 73.26), ("0", 0.0), ("1e20", None), ("1e308", None), ("nan", None), ("inf", None),
     ("-0.5", None), ("\u0661", None), ("", None)],
)  # fmt: skip
def test_seconds_are_finite_and_bounded(text, expected):
    assert parse_float(text, low=0, high=1_000_000) == expected


# --- allauth headless, signed out ------------------------------------------------------------------


@pytest.mark.parametrize("body", ODD_BODIES, ids=lambda body: repr(body[:12]))
def test_an_odd_body_to_the_headless_login_is_a_400_in_allauths_shape(body):
    response = post_raw(Client(), LOGIN, body)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["status"] == 400
    assert response.json()["errors"][0]["message"]


def test_a_deep_body_to_any_headless_endpoint_is_a_400():
    for path in ("/_allauth/app/v1/auth/signup", "/_allauth/app/v1/auth/password/request",
                 "/_allauth/app/v1/auth/2fa/authenticate", "/_allauth/app/v1/auth/code/request"):  # fmt: skip
        assert post_raw(Client(), path, DEEP).status_code == 400, path


# --- The API, signed in ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", ODD_BODIES, ids=lambda body: repr(body[:12]))
def test_an_odd_body_to_the_api_is_a_400_parse_error(body):
    _, api = person_with_app("reader@example.com")
    response = api.post("/api/v1/conversions", body, content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_a_deep_body_to_the_api_signed_out_is_a_401_not_a_500():
    response = post_raw(Client(), "/api/v1/conversions", DEEP)
    assert response.status_code == 401


# --- NUL characters --------------------------------------------------------------------------------


def test_nul_in_a_query_string_is_a_400_before_it_reaches_the_database():
    _, api = person_with_app("reader@example.com")
    assert_error(api.get("/api/v1/books", {"q": "a\x00b"}), 400, "parse_error", "NUL")
    assert_error(api.get("/api/v1/books", {"status\x00": "ready"}), 400, "parse_error")


def test_nul_in_a_web_form_is_a_400(owner):
    browser = Client()
    browser.force_login(owner)
    preview = f"/voices/{DEFAULT_VOICE}/preview"
    form = "text=hello%00world"
    assert browser.post(preview, form, content_type="application/x-www-form-urlencoded").status_code == 400
    assert browser.post(preview, {"text": "hello\x00world"}).status_code == 400  # multipart: the view checks
    response = browser.get("/books/", {"q": "\x00"})
    assert response.status_code == 400


# --- The web's JSON: the voice preview -------------------------------------------------------------


HUGE_SPEEDS = ['{"text": "hi", "speed": 1e400}', '{"text": "hi", "speed": ' + "9" * 400 + "}"]


@pytest.mark.parametrize("body", [DEEP, NESTED_OBJECTS, *HUGE_SPEEDS])
def test_an_odd_json_body_to_the_web_voice_preview_is_a_400(owner, body):
    browser = Client()
    browser.force_login(owner)
    response = post_raw(browser, f"/voices/{DEFAULT_VOICE}/preview", body)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["code"] == "invalid"
