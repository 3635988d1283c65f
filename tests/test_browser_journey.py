"""The web app in a real browser: Debian's Chromium and Playwright, on the live server with a worker.

1. A newcomer signs up, verifies the emailed code, uploads a three-chapter
   EPUB, unticks a chapter, converts, watches the progress, plays a finished
   chapter and downloads the M4B and the read-along EPUB (which epubcheck
   passes), then subscribes to its podcast feed and fetches the episode's
   audio as a podcast app does.
2. A reader uploads The Adventures of Sherlock Holmes; the picker ticks its
   twelve stories and leaves the front and back matter unticked.

Each main page is checked with axe-core (vendored under ``tests/vendor``: no
serious or critical violation) at 1280 px and at 360 px, for no sideways
scrolling at 360 px, and saved as a screenshot at both widths under
``var/screenshots/`` (``<page>-1280.png``, ``<page>-360.png``, and axe's
lesser findings in ``axe-<page>.json``).

Every page is served under the Content-Security-Policy, and a test fails when
the browser reports a violation of it (a console message, or a
``securitypolicyviolation`` event) on any page it opened, or when an HTML page
came without the header.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
import requests
from django.core import mail
from playwright import sync_api

from accounts.tests.conftest import PASSWORD, code_in, last_mail_to, make_person, totp_code
from audiobooks.models import Book, Conversion
from audiobooks.tests.ingest_fixtures import picture, story_epub
from credits.services import credits_grant_by_system
from ebookvoice.paths import BASE_DIR, corpus_dir
from tests.needs import require_program

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

AXE = BASE_DIR / "tests" / "vendor" / "axe-core" / "axe.min.js"
SCREENSHOTS = BASE_DIR / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 800}
NARROWEST = PHONE["width"]
TITLES = ("The Harbour", "The Storm", "Morning")
CONVERSION_TIMEOUT_S = 300
# A cover drawn in SVG (as every Standard Ebooks title has), rasterised to at most 1400 px.
SVG_COVER = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 2 3">'
    b'<rect width="2" height="3" fill="#3b3fb6"/></svg>'
)
SVG_COVER_SIZE = [933, 1400]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    executable = require_program("chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls these
    # tests make between page actions are still plain synchronous ones. Only while
    # the browser is open, so every other test keeps Django's check.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable, args=["--autoplay-policy=no-user-gesture-required"]
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# Registered before any page script: every CSP violation the page sees, as "directive: blocked URI".
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const blocked = event.blockedURI || "inline";
  window.__cspViolations.push(event.violatedDirective + ": " + blocked + " on " + location.pathname);
});
"""


# Registered before any page script: the Media Session action handlers the page sets, so that a test
# presses the lock screen's buttons by calling them as the browser does, and each position it reports.
MEDIA_SESSION_RECORDER = """
window.__mediaHandlers = {};
window.__mediaPositions = [];
if ("mediaSession" in navigator) {
  const session = navigator.mediaSession;
  const setActionHandler = session.setActionHandler.bind(session);
  const setPositionState = session.setPositionState.bind(session);
  session.setActionHandler = (action, handler) => {
    window.__mediaHandlers[action] = handler;
    setActionHandler(action, handler);
  };
  session.setPositionState = (state) => {
    window.__mediaPositions.push(state);
    setPositionState(state);
  };
}
"""


class CspWatch:
    """CSP violations the browser reported (console and events), and HTML pages sent without the header."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        self.unprotected: list[str] = []
        page.on("console", self._on_console)
        page.on("response", self._on_response)

    def _on_console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def _on_response(self, response: Any) -> None:
        headers = response.headers
        html = headers.get("content-type", "").startswith("text/html")
        if response.request.resource_type == "document" and html and "content-security-policy" not in headers:
            self.unprotected.append(response.url)

    def events(self) -> list[str]:
        try:
            return list(self.page.evaluate("() => window.__cspViolations || []"))
        except sync_api.Error:  # the page is closing
            return []

    def violations(self) -> list[str]:
        return self.console + self.events() + [f"no CSP header: {url}" for url in self.unprotected]


@pytest.fixture
def page(chromium: Any, live_server: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport=DESKTOP, base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(20_000)
    context.add_init_script(CSP_LISTENER)
    context.add_init_script(MEDIA_SESSION_RECORDER)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    watch = CspWatch(page)
    page.csp_watch = watch
    yield page
    # Console messages cover every document the page opened; events only the last one (csp_check
    # reads them on each checked page before it navigates away).
    violations = watch.violations()
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
    assert not violations, f"Content-Security-Policy violations: {violations}"


def check_page(page: Any, name: str) -> list[dict[str, Any]]:
    """At 1280 px and then at 360 px: run axe-core (no serious or critical violation) and save a
    screenshot; at 360 px the page must not scroll sideways.

    Returns the violations below serious at either width (kept in a JSON file beside the screenshots).
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.evaluate("() => window.scrollTo(0, 0)")
    csp_check(page, name)
    # Evaluated through DevTools, which the page's CSP does not govern (a <script> tag it would block).
    page.evaluate(AXE.read_text(encoding="utf-8"))
    lesser: list[dict[str, Any]] = []
    for viewport in (DESKTOP, PHONE):
        width = viewport["width"]
        page.set_viewport_size(viewport)
        results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        violations = [{k: v[k] for k in ("id", "impact", "help", "nodes")} for v in results["violations"]]
        serious = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in violations
            if v["impact"] in ("serious", "critical")
        ]
        assert not serious, f"{name} at {width} px: {serious}"
        lesser += [{**v, "width": width} for v in violations]
        if width == NARROWEST:
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {NARROWEST} px"
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    (SCREENSHOTS / f"axe-{name}.json").write_text(json.dumps(lesser, indent=1))
    return lesser


def csp_check(page: Any, name: str) -> None:
    """No CSP violation on this page so far; fails the test at once, naming the page."""
    violations = page.csp_watch.violations()
    assert not violations, f"{name}: Content-Security-Policy violations: {violations}"


def sign_up(page: Any, email: str) -> None:
    page.goto("/")
    check_page(page, "landing")
    page.get_by_role("link", name="Start free").first.click()
    page.wait_for_url("**/accounts/signup/")
    check_page(page, "sign-up")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/accounts/confirm-email/**")
    check_page(page, "verify-email")
    page.get_by_label("Code").fill(code_in(last_mail_to(email)))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/books/")


def upload(page: Any, path: Path) -> None:
    page.goto("/books/new")
    check_page(page, "new-audiobook")
    page.set_input_files("#book-file", str(path))
    page.wait_for_url(re.compile(r".*/books/[0-9a-f-]{36}/convert$"))
    # The page waits for the worker to read the book, then shows the picker by itself.
    page.locator("[data-convert-form]").wait_for(timeout=120_000)


def test_a_newcomer_signs_up_converts_a_short_book_listens_and_downloads_the_m4b(
    page: Any, celery_worker: Any, tmp_path: Path
) -> None:
    mail.outbox.clear()
    sign_up(page, "newcomer@example.com")
    assert page.get_by_role("heading", name="Your library").is_visible()
    assert " ".join(page.locator(".balance-chip").inner_text().split()) == "3.00 credits · 2 h 25 min"
    check_page(page, "library-empty")

    svg_book = story_epub(
        tmp_path, titles=TITLES, paragraphs_per_chapter=2, cover=("cover.svg", SVG_COVER, "image/svg+xml")
    )
    upload(page, svg_book)
    boxes = page.locator("[data-chapter]")
    assert boxes.count() == 3
    assert all(boxes.nth(i).is_checked() for i in range(3))
    quoted = page.locator("[data-quote-characters]").inner_text()
    page.get_by_label(re.compile("The Storm")).uncheck()
    assert page.locator("[data-chapter-count]").inner_text() == "2"
    page.wait_for_function(
        "before => document.querySelector('[data-quote-characters]').textContent !== before", arg=quoted
    )
    characters = int(page.locator("[data-quote-characters]").inner_text().replace(",", ""))
    assert page.locator("[data-quote-credits]").inner_text() == f"{-(-characters // 500) / 100:.2f}"
    check_page(page, "picker")
    check_preview_icon(page)

    page.get_by_role("button", name="Convert").click()
    page.wait_for_url(re.compile(r".*/books/[0-9a-f-]{36}/$"))
    assert page.get_by_role("heading", name="Making your audiobook").is_visible()
    assert page.locator("[data-live]").count() == 5
    assert "in all" not in page.locator("[data-live='chapters-head']").inner_text()  # no total time yet
    assert page.get_by_role("link", name="Convert again").count() == 0
    check_page(page, "book-converting")
    conversion = Conversion.objects.get(owner__email="newcomer@example.com")
    assert [s.chapter.title for s in conversion.selections.order_by("position")] == ["The Harbour", "Morning"]

    # Watch the progress: the bar moves and the first chapter becomes playable while the rest render.
    listen_to_the_first_chapter(page)

    sync_api.expect(page.locator("[data-m4b-link]")).to_be_visible(timeout=CONVERSION_TIMEOUT_S * 1000)
    conversion.refresh_from_db()
    assert conversion.status == Conversion.Status.COMPLETED, conversion.error_message
    check_finished_without_a_reload(page, tmp_path)
    # The player comes back where the reader paused.
    assert page.locator("[data-now-title]").inner_text() == "1. The Harbour"
    page.wait_for_function("() => document.querySelector('[data-audio]').currentTime >= 2")
    check_media_session_and_keyboard(page)
    check_bookmark_and_sleep_timer(page)
    check_page(page, "book-done")
    check_readalong_epub(page, tmp_path)

    page.goto("/books/")
    assert "Audiobook ready" in page.locator(".book-card").inner_text()
    page.wait_for_function(f"() => ({DRAWN})(document.querySelector('.book-card .cover img'))")
    assert page.locator(".book-card .cover img").evaluate(DRAWN) == SVG_COVER_SIZE
    check_page(page, "library")
    check_account_area(page)
    check_podcast_feed(page)


def check_finished_without_a_reload(page: Any, tmp_path: Path) -> None:
    """The page the conversion finished on is as a reload draws it: "Convert again", the total time,
    every file; the M4B holds the SVG cover, drawn. Then the page is reloaded."""
    assert not page.locator("[data-progress-card]").is_visible()
    sync_api.expect(page.get_by_role("link", name="Convert again")).to_be_visible()
    assert "in all" in page.locator("[data-live='chapters-head']").inner_text()
    live = page.evaluate(LIVE_PARTS)
    assert attached_pictures(download_m4b(page, tmp_path)) == [("mjpeg", *SVG_COVER_SIZE)]
    page.reload()
    assert page.evaluate(LIVE_PARTS) == live


def listen_to_the_first_chapter(page: Any) -> None:
    """It becomes playable while the rest render; play shows pause, and pause shows play again."""
    first = page.locator("[data-track-button][data-number='1']")
    sync_api.expect(first).to_be_enabled(timeout=CONVERSION_TIMEOUT_S * 1000)
    first.click()
    page.wait_for_function(
        "() => { const a = document.querySelector('[data-audio]'); return !a.paused && a.currentTime > 2; }",
        timeout=30_000,
    )
    assert page.get_by_role("button", name="Pause").is_visible()
    check_play_icon(page, playing=True)
    assert page.locator("[data-now-title]").inner_text() == "1. The Harbour"
    page.get_by_role("button", name="Pause").click()
    check_play_icon(page, playing=False)


AUDIO = "document.querySelector('[data-audio]')"
DRAWN = "img => img.complete && img.naturalWidth > 0 ? [img.naturalWidth, img.naturalHeight] : null"
# The book page's parts the server draws (data-live), each as HTML without its per-request CSRF token.
LIVE_PARTS = """() => Object.fromEntries([...document.querySelectorAll("[data-live]")].map((part) => {
  const copy = part.cloneNode(true);
  copy.querySelectorAll("input[name=csrfmiddlewaretoken]").forEach((input) => input.remove());
  return [part.dataset.live, copy.outerHTML];
}))"""


def download_m4b(page: Any, folder: Path) -> Path:
    with page.expect_download() as download_info:
        page.locator("[data-m4b-link]").click()
    saved = folder / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    assert saved.suffix == ".m4b"
    assert saved.read_bytes()[4:8] == b"ftyp"
    return saved


def attached_pictures(path: Path) -> list[tuple[str, int, int]]:
    """The file's attached pictures as ffprobe (Debian's ffmpeg) reports them: codec, width, height."""
    ffprobe = require_program("ffprobe")
    probed = subprocess.run(
        [ffprobe, "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return [
        (stream["codec_name"], stream["width"], stream["height"])
        for stream in json.loads(probed.stdout)["streams"]
        if stream.get("disposition", {}).get("attached_pic") == 1
    ]


def check_media_session_and_keyboard(page: Any) -> None:
    """The keyboard, and the lock screen and headphones (the Media Session API), drive the player."""
    check_keyboard(page)
    check_media_session(page)


def check_keyboard(page: Any) -> None:
    """With nothing focused: space plays and pauses (the icon follows), ← → seek 15 s, [ ] the speed."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Space")
    page.wait_for_function(f"() => !{AUDIO}.paused")
    check_play_icon(page, playing=True)
    page.keyboard.press("Space")
    page.wait_for_function(f"() => {AUDIO}.paused")
    check_play_icon(page, playing=False)
    at = page.evaluate(f"() => {AUDIO}.currentTime")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        f"at => Math.abs({AUDIO}.currentTime - Math.min(at + 15, {AUDIO}.duration)) < 0.5", arg=at
    )
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"at => Math.abs({AUDIO}.currentTime - at) < 0.5", arg=at)
    # [ and ] step the speed through the list, which shows it.
    page.keyboard.press("]")
    assert page.evaluate(f"() => {AUDIO}.playbackRate") == 1.25
    assert page.locator("[data-rate]").input_value() == "1.25"
    page.keyboard.press("[")
    page.keyboard.press("[")
    assert page.evaluate(f"() => {AUDIO}.playbackRate") == 0.75
    page.keyboard.press("]")
    assert page.locator("[data-rate]").input_value() == "1"
    # Typing a note: the keys are its text, not commands.
    note = page.get_by_label("Note for the bookmark (optional)")
    note.click()
    page.keyboard.type("a [b] c")
    assert note.input_value() == "a [b] c"
    assert page.evaluate(f"() => [{AUDIO}.paused, {AUDIO}.playbackRate]") == [True, 1]
    note.fill("")


def check_media_session(page: Any) -> None:
    """What the lock screen shows, and its buttons, called as the browser calls them."""
    session = page.evaluate(
        """() => { const m = navigator.mediaSession.metadata;
                   return {title: m.title, artist: m.artist, album: m.album,
                           artwork: m.artwork.map((a) => a.src)}; }"""
    )
    byline = page.locator(".book-head .byline")
    assert session == {
        "title": "The Harbour",
        "artist": byline.inner_text() if byline.count() else "",
        "album": "The Lighthouse",
        "artwork": [page.locator(".book-head .cover img").evaluate("img => img.src")],
    }
    last_position = "() => window.__mediaPositions.at(-1)"
    assert page.evaluate(last_position)["duration"] == page.evaluate(f"() => {AUDIO}.duration")
    press = "([action, details]) => window.__mediaHandlers[action]({action, ...details})"
    page.evaluate(press, ["play", {}])
    page.wait_for_function(f"() => !{AUDIO}.paused")
    check_play_icon(page, playing=True)
    assert page.evaluate("() => navigator.mediaSession.playbackState") == "playing"
    page.evaluate(press, ["pause", {}])
    page.wait_for_function(f"() => {AUDIO}.paused")
    check_play_icon(page, playing=False)
    assert page.evaluate("() => navigator.mediaSession.playbackState") == "paused"
    page.evaluate(press, ["seekto", {"seekTime": 4}])
    page.wait_for_function(f"() => Math.abs({AUDIO}.currentTime - 4) < 0.5")
    page.evaluate(press, ["seekforward", {"seekOffset": 6}])
    page.wait_for_function(f"() => Math.abs({AUDIO}.currentTime - 10) < 0.5")
    page.evaluate(press, ["seekbackward", {}])  # no offset given: the player's 15 s
    page.wait_for_function(f"() => {AUDIO}.currentTime < 0.5")
    page.wait_for_function("() => window.__mediaPositions.at(-1).position < 0.5")
    page.evaluate(press, ["nexttrack", {}])
    sync_api.expect(page.locator("[data-now-title]")).to_have_text(re.compile(r"\d+\. Morning"))
    assert page.evaluate("() => navigator.mediaSession.metadata.title") == "Morning"
    page.evaluate(press, ["previoustrack", {}])
    sync_api.expect(page.locator("[data-now-title]")).to_have_text("1. The Harbour")
    assert page.evaluate("() => navigator.mediaSession.metadata.title") == "The Harbour"
    page.wait_for_function(f"() => !{AUDIO}.paused")
    page.evaluate(press, ["pause", {}])
    page.wait_for_function(f"() => {AUDIO}.paused")


def check_covers_and_edit(page: Any, tmp_path: Path) -> None:
    """Sherlock's SVG cover and a book's JPEG cover show, drawn, on the book page and in the library,
    and the JPEG is the one picture in that book's M4B; the book page's form changes the title, the
    authors and the cover."""
    head = page.locator(".book-head .cover img")
    page.wait_for_function(f"() => ({DRAWN})(document.querySelector('.book-head .cover img'))")
    assert head.evaluate(DRAWN) == SVG_COVER_SIZE  # Sherlock's SVG, rasterised to at most 1400 px
    jpeg = picture("JPEG", (600, 900), "darkred")
    upload(
        page, story_epub(tmp_path, titles=TITLES, name="covered.epub", cover=("c.jpg", jpeg, "image/jpeg"))
    )
    page.wait_for_function(f"() => ({DRAWN})(document.querySelector('.book-head .cover img'))")
    assert head.evaluate(DRAWN) == [600, 900]
    # Converted, one chapter to be quick: the JPEG, as it came, is the M4B's attached picture.
    page.locator("[data-select='none']").click()
    page.get_by_label(re.compile("The Harbour")).check()
    convert = page.get_by_role("button", name="Convert")
    sync_api.expect(convert).to_be_enabled()
    convert.click()
    page.wait_for_url(re.compile(r".*/books/[0-9a-f-]{36}/$"))
    book_page = page.url
    sync_api.expect(page.locator("[data-m4b-link]")).to_be_visible(timeout=CONVERSION_TIMEOUT_S * 1000)
    assert attached_pictures(download_m4b(page, tmp_path)) == [("mjpeg", 600, 900)]
    page.goto("/books/?view=list")
    covers = page.locator(".book-card .cover img")
    sync_api.expect(covers).to_have_count(2)
    page.wait_for_function(f"() => [...document.querySelectorAll('.book-card .cover img')].every({DRAWN})")
    assert sorted(cover.evaluate(DRAWN) for cover in covers.all()) == [[600, 900], SVG_COVER_SIZE]

    page.goto(book_page)
    page.get_by_text("Edit title, author or cover").click()
    page.get_by_label("Title").fill("Leaves of Grass")
    page.get_by_label("Authors").fill("Walt Whitman")
    page.get_by_role("button", name="Save details").click()
    sync_api.expect(page.get_by_role("heading", name="Leaves of Grass")).to_be_visible()
    assert page.locator(".book-head .byline").inner_text() == "Walt Whitman"
    svg = tmp_path / "new-cover.svg"
    svg.write_bytes(SVG_COVER)
    page.get_by_text("Edit title, author or cover").click()
    page.set_input_files("#edit-cover", str(svg))
    page.get_by_role("button", name="Upload cover").click()
    page.wait_for_function(f"() => ({DRAWN})(document.querySelector('.book-head .cover img'))")
    assert head.evaluate(DRAWN) == SVG_COVER_SIZE

    page.goto("/books/?view=list")
    sync_api.expect(covers).to_have_count(2)
    page.wait_for_function(f"() => [...document.querySelectorAll('.book-card .cover img')].every({DRAWN})")
    assert sorted(cover.evaluate(DRAWN) for cover in covers.all()) == [SVG_COVER_SIZE, SVG_COVER_SIZE]
    check_page(page, "library-covers")


def check_bookmark_and_sleep_timer(page: Any) -> None:
    """A bookmark with a note is added and jumped back to; the sleep timer stops playback, both after a
    (shortened) time and at the end of the chapter, where the player would otherwise go on to the next."""
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function(f"() => !{AUDIO}.paused && {AUDIO}.currentTime > 3", timeout=30_000)
    page.get_by_label("Note for the bookmark (optional)").fill("The keeper climbs")
    page.get_by_role("button", name="Bookmark this place").click()
    jump = page.locator("[data-bookmarks] [data-bookmark-jump]")
    sync_api.expect(jump).to_have_count(1)
    sync_api.expect(jump).to_contain_text("Chapter 1 · 0:0")
    sync_api.expect(jump).to_contain_text("The keeper climbs")
    marked = float(jump.get_attribute("data-seconds") or "0")
    assert marked >= 3
    page.evaluate(f"() => {{ {AUDIO}.currentTime = 0; }}")
    page.wait_for_function(f"() => {AUDIO}.currentTime < 2")
    jump.click()
    page.wait_for_function(f"at => Math.abs({AUDIO}.currentTime - at) < 1.5", arg=marked)
    # The sleep timer, its 5 minutes made 2 seconds (the player reads each option's value as seconds).
    page.evaluate("() => { document.querySelector('[data-sleep] option[value=\"300\"]').value = '2'; }")
    page.locator("[data-sleep]").select_option("2")
    page.wait_for_function(f"() => {AUDIO}.paused", timeout=10_000)
    sync_api.expect(page.locator("[data-sleep-left]")).to_have_text("The sleep timer stopped playback.")
    check_play_icon(page, playing=False)
    # End of chapter: the player stops there instead of going on to chapter 2.
    page.locator("[data-sleep]").select_option("chapter")
    page.evaluate(f"() => {{ {AUDIO}.currentTime = {AUDIO}.duration - 1; {AUDIO}.play(); }}")
    page.wait_for_function(f"() => {AUDIO}.ended", timeout=15_000)
    sync_api.expect(page.locator("[data-sleep-left]")).to_have_text("The sleep timer stopped playback.")
    assert page.locator("[data-now-title]").inner_text() == "1. The Harbour"
    assert page.evaluate(f"() => {AUDIO}.paused")
    # A fresh page: the audio played here would keep its connection open while it buffers.
    page.reload()
    sync_api.expect(jump).to_contain_text("The keeper climbs")  # listed by the server this time


def check_play_icon(page: Any, *, playing: bool) -> None:
    """What the eye sees, not only the label: one icon shows, the other is gone."""
    shown, gone = ("pause", "play") if playing else ("play", "pause")
    sync_api.expect(page.locator(f"[data-player] [data-play] [data-icon-{shown}]")).to_be_visible()
    sync_api.expect(page.locator(f"[data-player] [data-play] [data-icon-{gone}]")).to_be_hidden()
    assert page.locator("[data-player] [data-play]").get_attribute("aria-label") == (
        "Pause" if playing else "Play"
    )


# The voice-preview button's state after a click and after a second one, read in the same task as
# the clicks: the sample may fail to load a moment later (the button then stops), but not in between.
PREVIEW_CLICKS = """button => {
  const shown = (selector) => getComputedStyle(button.querySelector(selector)).display !== "none";
  const state = () => ({pressed: button.getAttribute("aria-pressed"), play: shown("[data-icon-play]"),
                        pause: shown("[data-icon-pause]")});
  button.click();
  const playing = state();
  button.click();
  return [playing, state()];
}"""


def check_preview_icon(page: Any) -> None:
    """A voice's ▶ turns into ❚❚ while its sample plays, and back when it stops."""
    playing, stopped = page.locator("[data-preview-url]").first.evaluate(PREVIEW_CLICKS)
    assert playing == {"pressed": "true", "play": False, "pause": True}
    assert stopped == {"pressed": "false", "play": True, "pause": False}


def check_account_area(page: Any) -> None:
    """The account's overview and credits (allauth's pages: the test after the journeys)."""
    page.goto("/accounts/settings/")
    check_page(page, "account")
    page.goto("/credits/")
    assert "Charge" in page.locator("table").inner_text()
    check_page(page, "credits")
    check_api_docs(page)


def check_readalong_epub(page: Any, tmp_path: Path) -> None:
    """The read-along EPUB from the book page's downloads passes Debian's epubcheck."""
    epubcheck = require_program("epubcheck")
    link = page.locator("[data-readalong-link]")
    assert "about" in link.inner_text()  # its size, stated before the download
    with page.expect_download() as download_info:
        link.click()
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    assert saved.name.endswith("(read-along).epub")
    # Debian installs epubcheck as a jar, run by binfmt_misc where the kernel has it; java always works.
    checked = subprocess.run(
        ["java", "-jar", epubcheck, str(saved)], capture_output=True, text=True, timeout=300
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def check_podcast_feed(page: Any) -> None:
    """Subscribe as a podcast app would: make the feed on its page, then fetch it and its audio."""
    page.goto("/feeds/")
    page.get_by_role("button", name="Make a feed of all my audiobooks").click()
    page.wait_for_url("**/feeds/")
    sync_api.expect(page.locator("img.feed-qr")).to_be_visible()
    page.wait_for_function("() => document.querySelector('img.feed-qr').naturalWidth > 0")
    check_page(page, "feeds")
    feed = feedparser.parse(requests.get(page.locator("[data-feed-url]").input_value(), timeout=30).content)
    assert not feed.bozo, feed.bozo_exception
    (episode,) = feed.entries
    (enclosure,) = episode.enclosures
    audio = requests.get(enclosure.href, timeout=60)  # a 302 to a fresh link, followed
    assert (audio.status_code, len(audio.content)) == (200, int(enclosure.length))
    assert audio.content[4:8] == b"ftyp"
    start = requests.get(enclosure.href, headers={"Range": "bytes=0-99"}, timeout=30)
    assert (start.status_code, start.content) == (206, audio.content[:100])


def check_api_docs(page: Any) -> None:
    """Swagger UI and Redoc render the API under the same policy: no inline script or style."""
    page.goto("/api/schema/swagger/")
    sync_api.expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=30_000)
    page.wait_for_load_state("networkidle")
    csp_check(page, "swagger")
    page.goto("/api/schema/redoc/")
    sync_api.expect(page.get_by_text("Books in, audiobooks out.").first).to_be_visible(timeout=30_000)
    page.wait_for_load_state("networkidle")
    csp_check(page, "redoc")


def test_allauths_pages_are_the_sites_own_and_pass_axe_at_1280_and_360_px(page: Any) -> None:
    """allauth's pages as a reader meets them: signed out, signed in, turning two-factor on, and
    signing in with it. ``accounts/tests/test_allauth_pages.py`` renders every one of them; here
    each is seen in Chromium at both widths (the sign-in, sign-up and code pages are in the
    journeys above)."""
    make_person("pages@example.com")
    signed_out = [
        ("/accounts/password/reset/", "password-reset"),
        ("/accounts/login/code/", "login-code-request"),
        ("/accounts/magic-link/", "magic-link"),
    ]
    for path, name in signed_out:
        page.goto(path)
        check_page(page, name)
    sign_in(page, "pages@example.com")
    page.wait_for_url("**/books/")
    signed_in = [
        ("/accounts/email/", "email"),
        ("/accounts/password/change/", "password-change"),
        ("/accounts/sessions/", "sessions"),
        ("/accounts/3rdparty/", "connected-accounts"),
    ]
    for path, name in signed_in:
        page.goto(path)
        check_page(page, name)
    assert "Third-Party" not in page.content()
    # Google is not configured here, so the menu does not offer connected accounts.
    page.goto("/accounts/2fa/")
    sync_api.expect(
        page.locator(".account-nav").get_by_role("link", name="Connected accounts")
    ).to_have_count(0)
    check_page(page, "two-factor")

    page.get_by_role("link", name="Turn on").click()
    page.wait_for_url("**/accounts/reauthenticate/**")  # turning it on asks for the password again
    check_page(page, "reauthenticate")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/accounts/2fa/totp/activate/")
    sync_api.expect(page.locator("img.totp-qr[src^='data:']")).to_be_visible()  # the QR code, a data: image
    check_page(page, "two-factor-activate")
    secret = page.locator("#authenticator_secret").input_value()
    left_in_period = 30 - time.time() % 30
    if left_in_period < 5:  # a code typed at the end of its period would be checked in the next
        time.sleep(left_in_period + 0.5)
    page.locator("input[name=code]").fill(totp_code(secret))
    page.get_by_role("button", name="Turn on").click()
    page.wait_for_url(re.compile(r".*/accounts/2fa/(recovery-codes/)?$"))
    page.goto("/accounts/2fa/recovery-codes/")
    check_page(page, "recovery-codes")
    recovery_code = page.locator(".recovery-codes code").first.inner_text()
    page.goto("/accounts/2fa/recovery-codes/generate/")
    check_page(page, "recovery-codes-new")
    page.goto("/accounts/2fa/totp/deactivate/")
    check_page(page, "two-factor-deactivate")

    # Signing in again: the second step asks for a code (a recovery code does too).
    page.locator(".site-nav").get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/")
    sign_in(page, "pages@example.com")
    page.wait_for_url("**/accounts/2fa/authenticate/")
    check_page(page, "sign-in-two-factor")
    page.locator("input[name=code]").fill(recovery_code)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/books/")


def sign_in(page: Any, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_the_csp_watch_fails_on_an_inline_style_and_an_inline_script(page: Any, live_server: Any) -> None:
    """The check the journeys rely on can fail: the policy blocks these, and the watch reports them."""
    page.goto("/")
    page.wait_for_load_state("networkidle")
    assert page.csp_watch.violations() == []
    page.evaluate(
        """() => {
          document.body.setAttribute("style", "background: red");
          const script = document.createElement("script");
          script.textContent = "window.__ran = true";
          document.body.appendChild(script);
        }"""
    )
    page.wait_for_function("() => window.__cspViolations.length >= 2")
    assert page.evaluate("() => window.__ran") is None  # the inline script did not run
    violations = page.csp_watch.violations()
    assert any("style-src" in v for v in violations), violations
    assert any("script-src" in v for v in violations), violations
    page.csp_watch.console.clear()
    page.evaluate("() => { window.__cspViolations = []; }")


def test_the_picker_shows_the_twelve_sherlock_holmes_stories_ticked_and_the_rest_unticked(
    page: Any, celery_worker: Any, settings: Any, tmp_path: Path
) -> None:
    # Google's button shows once a client is configured (nothing is sent to Google here).
    google = settings.SOCIALACCOUNT_PROVIDERS["google"]
    settings.SOCIALACCOUNT_PROVIDERS = {
        "google": {**google, "APPS": [{"client_id": "test-client", "secret": "test-secret", "key": ""}]}
    }
    holmes = make_person("holmes@example.com")
    # Enough for the whole book: the picker ticks only what the balance pays for.
    credits_grant_by_system(user=holmes, hundredths=2_000, reason="the whole book")
    page.goto("/accounts/login/")
    assert page.get_by_role("link", name="Continue with Google").is_visible()
    check_page(page, "sign-in")
    page.get_by_label("Email").fill("holmes@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/books/")

    # A file that is not a book is refused in the drop zone, in words.
    page.goto("/books/new")
    not_a_book = tmp_path / "setup.exe"
    not_a_book.write_bytes(b"MZ" + bytes(2000))
    page.set_input_files("#book-file", str(not_a_book))
    refusal = page.locator("[data-upload-error]")
    sync_api.expect(refusal).to_be_visible()
    assert "Please upload an EPUB, PDF, TXT or HTML file." in refusal.inner_text()

    upload(page, corpus_dir() / "good" / "sherlock-holmes.epub")
    book = Book.objects.get(owner__email="holmes@example.com")
    stories = list(book.chapters.filter(included=True).values_list("title", flat=True))
    assert len(stories) == 12
    options = page.locator(".chapter-option")
    ticked = [
        options.nth(i).locator(".title").inner_text().split("\n")[0]
        for i in range(options.count())
        if options.nth(i).locator("input").is_checked()
    ]
    assert ticked == stories
    assert ticked[0] == "A Scandal in Bohemia"
    unticked = [i for i in range(options.count()) if not options.nth(i).locator("input").is_checked()]
    assert unticked, "the front and back matter should be listed, unticked"
    assert all(options.nth(i).locator(".why").count() == 1 for i in unticked)
    assert page.locator("[data-chapter-count]").inner_text() == "12"
    check_page(page, "picker-sherlock")
    check_covers_and_edit(page, tmp_path)


def test_the_signed_out_header_fits_a_360_px_phone_without_the_name_touching_sign_in(page: Any) -> None:
    page.set_viewport_size({"width": NARROWEST, "height": PHONE["height"]})
    page.goto("/")
    brand = page.locator(".brand__name").bounding_box()
    sign_in = page.locator(".site-nav").get_by_role("link", name="Sign in").bounding_box()
    assert brand is not None
    assert sign_in is not None
    assert brand["x"] + brand["width"] + 8 <= sign_in["x"], (brand, sign_in)
    assert abs(brand["y"] - sign_in["y"]) < 20  # one row
