"""The OpenAPI schema at /api/schema/, and its Swagger UI and Redoc pages served from our own static files."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("get", "/api/v1/me"),
    ("patch", "/api/v1/me"),
    ("get", "/api/v1/me/statistics"),
    ("get", "/api/v1/voices"),
    ("post", "/api/v1/voices/{voice_key}/preview"),
    ("get", "/api/v1/books"),
    ("post", "/api/v1/books"),
    ("get", "/api/v1/books/{book_uuid}"),
    ("delete", "/api/v1/books/{book_uuid}"),
    ("patch", "/api/v1/books/{book_uuid}"),
    ("post", "/api/v1/books/{book_uuid}/quote"),
    ("get", "/api/v1/books/{book_uuid}/progress"),
    ("put", "/api/v1/books/{book_uuid}/progress"),
    ("get", "/api/v1/books/{book_uuid}/bookmarks"),
    ("post", "/api/v1/books/{book_uuid}/bookmarks"),
    ("get", "/api/v1/books/{book_uuid}/bookmarks/{bookmark_uuid}"),
    ("patch", "/api/v1/books/{book_uuid}/bookmarks/{bookmark_uuid}"),
    ("delete", "/api/v1/books/{book_uuid}/bookmarks/{bookmark_uuid}"),
    ("post", "/api/v1/uploads"),
    ("post", "/api/v1/uploads/{upload_id}/finish"),
    ("get", "/api/v1/conversions"),
    ("post", "/api/v1/conversions"),
    ("get", "/api/v1/conversions/{conversion_uuid}"),
    ("post", "/api/v1/conversions/{conversion_uuid}/cancel"),
    ("post", "/api/v1/conversions/{conversion_uuid}/revisions"),
    ("post", "/api/v1/conversions/{conversion_uuid}/revisions/quote"),
    ("get", "/api/v1/conversions/{conversion_uuid}/downloads"),
    ("get", "/api/v1/credits"),
    ("get", "/api/v1/credits/entries"),
    ("get", "/api/v1/billing"),
    ("post", "/api/v1/billing/checkout"),
    ("get", "/api/v1/lexicon"),
    ("post", "/api/v1/lexicon"),
    ("get", "/api/v1/lexicon/{entry_uuid}"),
    ("put", "/api/v1/lexicon/{entry_uuid}"),
    ("delete", "/api/v1/lexicon/{entry_uuid}"),
    ("post", "/api/v1/lexicon/import"),
    ("get", "/api/v1/lexicon/export.pls"),
    ("get", "/api/v1/lexicon/export.csv"),
}


def schema() -> dict:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_openapi_3_and_describes_every_endpoint_with_the_session_token():
    document = schema()
    assert document["openapi"].startswith("3.")
    found = {(method, path) for path, item in document["paths"].items() for method in item}
    assert found == OPERATIONS
    assert document["components"]["securitySchemes"]["SessionToken"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Session-Token",
        "description": document["components"]["securitySchemes"]["SessionToken"]["description"],
    }


def test_every_operation_describes_its_errors_in_the_one_envelope():
    document = schema()
    error = {"$ref": "#/components/schemas/Error"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert responses["default"]["content"]["application/json"]["schema"] == error, (method, path)
            assert responses["401"]["content"]["application/json"]["schema"] == error, (method, path)


def test_billing_checkout_documents_its_409_when_payments_are_off_and_the_idempotency_key():
    operation = schema()["paths"]["/api/v1/billing/checkout"]["post"]
    assert {"201", "400", "409", "422", "503"} <= set(operation["responses"])
    assert "Idempotency-Key" in {parameter["name"] for parameter in operation["parameters"]}


def test_the_conversion_create_documents_the_idempotency_key_and_its_refusals():
    create = schema()["paths"]["/api/v1/conversions"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in create["parameters"] if p["in"] == "header"}
    assert {"201", "402", "409", "422", "429"} <= set(create["responses"])


def _properties(document: dict, name: str) -> dict:
    return document["components"]["schemas"][name]["properties"]


@pytest.mark.parametrize(
    ("component", "fields"),
    [
        ("BookQuoteOutput", ["credits", "balance", "shortfall"]),
        ("CreditsOutput", ["balance"]),
        ("CreditEntryOutput", ["amount", "balance_after"]),
        ("ConversionOutput", ["credits_charged"]),
        ("ConversionDetailOutput", ["credits_charged"]),
    ],
)
def test_every_amount_is_a_decimal_string_of_credits_with_its_integer_hundredths(component, fields):
    properties = _properties(schema(), component)
    for field in fields:
        assert properties[field]["type"] == "string", (component, field)
        assert properties[field]["format"] == "decimal", (component, field)
        assert properties[field]["pattern"] == "^-?\\d{0,12}(?:\\.\\d{0,2})?$", (component, field)
        assert properties[f"{field}_hundredths"]["type"] == "integer", (component, field)


def test_balances_say_how_much_audio_they_buy():
    document = schema()
    assert _properties(document, "CreditsOutput")["balance_audio_seconds"]["type"] == "integer"
    quote = _properties(document, "BookQuoteOutput")
    assert quote["balance_audio_seconds"]["type"] == "integer"
    assert quote["audio_seconds"]["type"] == "integer"


def test_the_schema_generates_without_a_warning():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


@pytest.mark.parametrize("page", ["/api/schema/swagger/", "/api/schema/redoc/"])
def test_the_docs_pages_load_their_scripts_from_this_site_only(page):
    browser = Client()
    response = browser.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assets = [s for s in sources if s.endswith((".js", ".css", ".png", "?script="))]
    assert assets
    for asset in assets:
        # The sidecar's files, ours, and the page's own start-up script (split for the CSP).
        assert asset.startswith(("/static/", page)), asset
        served = browser.get(asset)
        assert served.status_code == 200, asset
    assert "cdn." not in html


def test_a_books_chapters_say_which_chapter_each_section_belongs_to():
    chapter = schema()["components"]["schemas"]["ChapterOutput"]
    assert {"index", "title", "words", "chars", "included", "group", "section", "group_title"} <= set(
        chapter["properties"]
    )
    assert "text" not in chapter["properties"]
    assert chapter["properties"]["section"]["type"] == "integer"
