"""Every web form, fed odd values, answers below 500.

The test opens each page a reader, a newcomer and a visitor can reach, reads
every ``<form>`` on it (method, action, fields and their defaults), adds what
the pages' JavaScript posts without a ``<form>`` (a voice preview of typed
text, the player's place, the quote), and posts:

- every field at once set to each odd value, and
- each field alone set to each odd value, the others at their defaults;
- a JSON body nested 100,000 deep to every action (the voice preview takes JSON).

The odd values are Unicode digits (``'²'.isdigit()`` is true and ``int('²')``
fails), huge integers, NaN, Infinity, 1e308 and past it, empty and blank
strings, and NUL. No answer may be a 5xx. Rate limits are lifted where they
would refuse before the input is read; the text-preview limit is used up
first instead, so a valid preview is checked and then refused without
synthesis (no worker runs here).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client

from accounts.models import User
from accounts.tests.conftest import PASSWORD, make_person
from audiobooks.models import Book
from audiobooks.pipeline.submit import conversion_submit
from audiobooks.tests.factories import ingest_now, upload_file
from audiobooks.tests.ingest_fixtures import story_epub
from credits.ratelimits import Action, check_rate_limit
from credits.services import credits_grant_by_system
from tts_engine.registry import DEFAULT_VOICE

pytestmark = pytest.mark.django_db

ODD_VALUES = [
    "\u0663",  # ARABIC-INDIC DIGIT THREE: int() reads it
    "\u00b2",  # SUPERSCRIPT TWO: isdigit() is true, int() fails
    "\uff11\uff12",  # FULLWIDTH 12
    "9" * 30,
    "-" + "9" * 30,
    "99999999999999999999999",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "1e308",
    "1e309",
    "-1e308",
    "",
    "   ",
    "\x00",
]
DEEP_JSON = "[" * 100_000
# Posted last: they end the session, delete the book or the account.
ENDING = ("/logout/", "/delete", "/sessions/", "/accounts/delete/")


@dataclass
class Form:
    page: str
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    multipart: bool = False
    client: str = "reader"  # which session posts it


class FormReader(HTMLParser):
    """The forms of a page: their method, action and fields with what the page fills in."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            action = urljoin(self.page, attributes.get("action") or self.page)
            multipart = attributes.get("enctype", "") == "multipart/form-data"
            self._form = Form(self.page, action, attributes.get("method", "get").lower(), multipart=multipart)
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select", "button"):
            name = attributes.get("name")
            if not name or (tag == "button" and name in self._form.fields):
                return
            kind = attributes.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                self._form.fields.setdefault(name, "")
                return
            self._form.fields[name] = attributes.get("value", "")
            self._select = name if tag == "select" else None
        elif (
            tag == "option"
            and self._form is not None
            and self._select
            and (not self._form.fields.get(self._select) or "selected" in attributes)
        ):
            self._form.fields[self._select] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


@dataclass
class Fuzz:
    posts: int = 0
    forms: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)


@pytest.fixture
def lifted_limits(settings: Any) -> None:
    settings.ACCOUNTS_AUTH_RATE_PER_IP = "1000000/m"
    settings.ACCOUNT_RATE_LIMITS = False
    lifted = {"conversion": "100000/h", "upload": "100000/h", "text_preview": "1/h"}
    settings.CREDITS_RATE_LIMITS = {**settings.CREDITS_RATE_LIMITS, **lifted}


def browser() -> Client:
    """A client that answers a crash with its 500, as a server would, instead of raising it."""
    return Client(raise_request_exception=False)


def ready_book(user: User, directory: Path) -> Book:
    directory.mkdir(parents=True, exist_ok=True)
    book = upload_file(user, story_epub(directory, titles=("The Harbour", "The Storm")))
    book = ingest_now(book)
    assert book.status == Book.Status.READY, book.error_message
    return book


def forms_on(client: Client, page: str, who: str) -> list[Form]:
    response = client.get(page, follow=True)
    assert response.status_code == 200, (page, response.status_code)
    final = response.request["PATH_INFO"]
    reader = FormReader(final)
    reader.feed(response.content.decode())
    forms = [form for form in reader.forms if form.method == "post"]
    for form in forms:
        form.client = who
    return forms


def post(client: Client, form: Form, values: dict[str, str], fuzz: Fuzz, note: str) -> None:
    path = urlsplit(form.action).path
    # A POST goes multipart, as a browser's form with a file sends it.
    response = client.get(path, values) if form.method == "get" else client.post(path, values)
    fuzz.posts += 1
    if response.status_code >= 500:
        fuzz.server_errors.append(f"{form.method.upper()} {path} {note}: {response.status_code}")


def fuzz_form(client: Client, form: Form, fuzz: Fuzz, ensure: Callable[[], None]) -> None:
    fuzz.forms.append(f"{form.method.upper()} {urlsplit(form.action).path} ({', '.join(form.fields)})")
    names = [name for name in form.fields if name != "csrfmiddlewaretoken"]
    for value in ODD_VALUES:
        ensure()
        post(client, form, {**form.fields, **dict.fromkeys(names, value)}, fuzz, f"all={value!r}")
        for name in names:
            ensure()
            post(client, form, {**form.fields, name: value}, fuzz, f"{name}={value!r}")
    if form.method == "post":
        ensure()
        response = client.post(urlsplit(form.action).path, DEEP_JSON, content_type="application/json")
        fuzz.posts += 1
        if response.status_code >= 500:
            fuzz.server_errors.append(f"POST {form.action} deep JSON: {response.status_code}")


@pytest.fixture
def sessions(tmp_path: Path, lifted_limits: None) -> dict[str, Any]:
    reader = make_person("reader@example.com")
    credits_grant_by_system(user=reader, hundredths=5_000, reason="test")
    book = ready_book(reader, tmp_path / "one")
    running = ready_book(reader, tmp_path / "two")
    # A conversion in progress (no worker runs, so it stays so): its page has the cancel form.
    conversion_submit(
        user=reader, book_uuid=running.uuid, chapter_indexes=[0], voice_key=DEFAULT_VOICE,
        speed=1.0, idempotency_key="fuzz",
    )  # fmt: skip
    # A valid text preview is refused by its limit, used up here, instead of waiting for a worker.
    check_rate_limit(request_or_key=str(reader.pk), action=Action.TEXT_PREVIEW)

    signed_in = browser()
    signed_in.force_login(reader)
    assert signed_in.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302

    # A second-step sign-in waiting for its code.
    guarded = make_person("guarded@example.com")
    TOTP.activate(guarded, generate_totp_secret())
    second_step = browser()
    second_step.post("/accounts/login/", {"login": "guarded@example.com", "password": PASSWORD})
    # A newcomer waiting to confirm the emailed code, and a sign-in by code waiting for it.
    newcomer = browser()
    newcomer.post("/accounts/signup/", {"email": "newcomer@example.com", "password1": PASSWORD})
    by_code = browser()
    by_code.post("/accounts/login/code/", {"email": "reader@example.com"})
    return {
        "reader": signed_in, "visitor": browser(), "second_step": second_step, "newcomer": newcomer,
        "by_code": by_code, "user": reader, "book": book, "running": running,
    }  # fmt: skip


# Every form of every page, each field with each odd value: some 2,000 posts, minutes on a busy machine.
@pytest.mark.timeout(900)
def test_every_web_form_answers_odd_values_below_500(sessions: dict[str, Any], capsys: Any) -> None:
    reader: User = sessions["user"]
    book, running = sessions["book"], sessions["running"]
    pages = {
        "reader": [
            "/books/", "/books/new", f"/books/{book.uuid}/convert", f"/books/{running.uuid}/",
            "/credits/", "/feeds/", "/voices/", "/accounts/settings/", "/accounts/sessions/",
            "/accounts/email/", "/accounts/password/change/", "/accounts/2fa/",
            "/accounts/2fa/totp/activate/", "/accounts/delete/",
        ],
        "visitor": ["/accounts/login/", "/accounts/signup/", "/accounts/login/code/", "/accounts/magic-link/",
                    "/accounts/password/reset/"],
        "second_step": ["/accounts/2fa/authenticate/"],
        "newcomer": ["/accounts/confirm-email/"],
        "by_code": ["/accounts/login/code/confirm/"],
    }  # fmt: skip
    forms = [
        form for who, paths in pages.items() for path in paths for form in forms_on(sessions[who], path, who)
    ]
    # What the pages' JavaScript sends without a <form>.
    forms += [
        Form(
            "/voices/",
            f"/voices/{DEFAULT_VOICE}/preview",
            "post",
            {"text": "Call me Ishmael.", "speed": "1.0"},
        ),
        Form("player", f"/books/{book.uuid}/position", "post", {"chapter": "1", "seconds": "12.5"}),
        Form("picker", f"/books/{book.uuid}/quote", "get", {"chapter": "0", "voice": DEFAULT_VOICE}),
        Form("library", "/books/", "get", {"q": "harbour", "status": "ready", "ordering": "title"}),
    ]
    # A form that appears on several pages is posted once; two forms to one action (a code, and
    # "send another") are both posted.
    unique = {
        (form.client, form.method, urlsplit(form.action).path, *sorted(form.fields)): form for form in forms
    }
    ordered = sorted(unique.values(), key=lambda form: any(end in form.action for end in ENDING))

    fuzz = Fuzz()
    for form in ordered:
        client = sessions[form.client]

        def ensure(client: Client = client, who: str = form.client) -> None:
            if who == "reader" and "_auth_user_id" not in client.session:
                client.force_login(reader)  # a form above signed out or deleted something

        fuzz_form(client, form, fuzz, ensure)

    with capsys.disabled():
        print(
            f"\nweb form fuzz: {len(fuzz.forms)} forms, {fuzz.posts} posts, {len(fuzz.server_errors)} >= 500"
        )
        for line in fuzz.forms:
            print("  ", line)
    assert len(fuzz.forms) >= 20, fuzz.forms
    assert not fuzz.server_errors, json.dumps(fuzz.server_errors[:40], indent=1)
