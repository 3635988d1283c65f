"""Covers: every picture a book or a reader gives becomes a JPEG or PNG of at most 1400 px, or a warning."""

from __future__ import annotations

import base64
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import call_command
from PIL import Image

from audiobooks.ingest import ingest_file
from audiobooks.ingest.covers import (
    MAX_COVER_BYTES,
    CoverRefused,
    generated_cover,
    normalise_cover,
)
from ebookvoice.paths import corpus_dir

from .ingest_fixtures import EpubSpec, PdfPage, make_pdf, picture, write_text, xhtml

SHERLOCK = corpus_dir() / "good" / "sherlock-holmes.epub"
TEXT = xhtml("<h1>One</h1><p>The lighthouse keeper climbed the stairs at dusk.</p>")


def cover_epub(tmp_path: Path, data: bytes, *, href: str, media_type: str, name: str = "book.epub") -> Path:
    return EpubSpec(
        documents=[("c.xhtml", TEXT)],
        manifest_extra=f'<item id="cov" href="{href}" media-type="{media_type}" properties="cover-image"/>',
        extra_files={f"OEBPS/{href}": data},
    ).write(tmp_path, name)


def inspect(path: Path) -> dict:
    out = io.StringIO()
    call_command("inspect_book", str(path), "--json", stdout=out)
    return json.loads(out.getvalue())


def opened(data: bytes | None) -> Image.Image:
    assert data is not None
    return Image.open(io.BytesIO(data))


def test_an_epub3_jpeg_cover_image_is_scaled_to_1400_px_and_reported(tmp_path: Path) -> None:
    path = cover_epub(
        tmp_path, picture("JPEG", (2000, 3000), "navy"), href="i/c.jpg", media_type="image/jpeg"
    )
    book = ingest_file(path)
    image = opened(book.cover)
    assert (image.format, image.size) == ("JPEG", (933, 1400))
    assert (book.cover_media_type, book.cover_width, book.cover_height) == ("image/jpeg", 933, 1400)
    assert inspect(path)["cover"] == {"media_type": "image/jpeg", "width": 933, "height": 1400}


def test_a_small_jpeg_cover_is_kept_byte_for_byte(tmp_path: Path) -> None:
    jpeg = picture("JPEG", (600, 900))
    assert ingest_file(cover_epub(tmp_path, jpeg, href="c.jpg", media_type="image/jpeg")).cover == jpeg


def test_the_standard_ebooks_svg_cover_is_drawn_as_a_jpeg() -> None:
    report = inspect(SHERLOCK)
    assert report["cover"] == {"media_type": "image/jpeg", "width": 933, "height": 1400}
    image = opened(ingest_file(SHERLOCK).cover)
    # The painting under the title box: not a blank page.
    assert len(set(image.convert("L").resize((20, 30)).tobytes())) > 20


SVG = (
    '<?xml version="1.0" encoding="utf-8"?><svg xmlns="http://www.w3.org/2000/svg" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 200 300">'
    '<rect width="200" height="300" fill="#00ff00"/>{inner}</svg>'
)


def test_an_svg_cover_is_rasterised_to_its_aspect(tmp_path: Path) -> None:
    path = cover_epub(tmp_path, SVG.format(inner="").encode(), href="c.svg", media_type="image/svg+xml")
    book = ingest_file(path)
    image = opened(book.cover).convert("RGB")
    assert image.size == (933, 1400)
    assert image.getpixel((466, 700)) == pytest.approx((0, 255, 0), abs=3)
    assert book.cover_media_type == "image/jpeg"


def test_an_svg_cover_keeps_its_embedded_pictures(tmp_path: Path) -> None:
    embedded = base64.b64encode(picture("PNG", (10, 10), "blue")).decode()
    inner = f'<image width="200" height="300" xlink:href="data:image/png;base64,{embedded}"/>'
    book = ingest_file(
        cover_epub(tmp_path, SVG.format(inner=inner).encode(), href="c.svg", media_type="image/svg+xml")
    )
    assert opened(book.cover).convert("RGB").getpixel((466, 700)) == pytest.approx((0, 0, 255), abs=3)


def test_an_svg_cover_reads_no_file_from_the_disk(tmp_path: Path) -> None:
    red = tmp_path / "red.png"
    red.write_bytes(picture("PNG", (10, 10), "red"))
    for href in (str(red), red.as_uri(), "red.png"):
        inner = (
            f'<image width="200" height="300" xlink:href="{href}"/>'
            f'<image width="200" height="300" href="{href}"/>'
        )
        cover = normalise_cover(SVG.format(inner=inner).encode())
        # Green where the file would have painted red: nothing outside the SVG was read.
        assert opened(cover.data).convert("RGB").getpixel((466, 700)) == pytest.approx((0, 255, 0), abs=3), (
            href
        )


class _Counting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = picture("PNG", (10, 10), "red")
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_an_svg_cover_fetches_nothing_from_the_network() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        inner = (
            f'<image width="200" height="300" xlink:href="{url}/cover.png"/>'
            f'<use href="{url}/other.svg#shape"/>'
            f"<style>@import url({url}/style.css); rect {{ fill: url({url}/paint.svg#p) }}</style>"
        )
        cover = normalise_cover(SVG.format(inner=inner).encode())
    finally:
        server.shutdown()
        server.server_close()
    assert _Counting.hits == []
    assert opened(cover.data).size == (933, 1400)


@pytest.mark.parametrize(
    ("fmt", "mode", "expected"),
    [("GIF", "P", "image/jpeg"), ("WEBP", "RGB", "image/jpeg"), ("WEBP", "RGBA", "image/png")],
)
def test_gif_and_webp_covers_become_jpeg_or_png(tmp_path: Path, fmt: str, mode: str, expected: str) -> None:
    # A see-through picture stays a PNG, so its transparency survives.
    data = picture(fmt, (1600, 1600), (0, 128, 128, 100) if mode == "RGBA" else "teal", mode=mode)
    book = ingest_file(cover_epub(tmp_path, data, href=f"c.{fmt.lower()}", media_type=f"image/{fmt.lower()}"))
    assert (book.cover_media_type, book.cover_width, book.cover_height) == (expected, 1400, 1400)
    assert opened(book.cover).format == expected.split("/")[1].upper()


def test_the_first_picture_of_the_first_document_is_the_cover_when_none_is_declared(tmp_path: Path) -> None:
    spec = EpubSpec(
        documents=[
            ("cover.xhtml", xhtml('<div><img src="images/front%20cover.png" alt="Cover"/></div>')),
            ("c.xhtml", TEXT),
        ],
        manifest_extra='<item id="img" href="images/front%20cover.png" media-type="image/png"/>',
        extra_files={"OEBPS/images/front cover.png": (png := picture("PNG", (400, 600), "purple"))},
    )
    book = ingest_file(spec.write(tmp_path))
    assert (book.cover, book.cover_media_type) == (png, "image/png")


def test_an_svg_wrapper_page_gives_its_picture(tmp_path: Path) -> None:
    page = xhtml(
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'viewBox="0 0 4 6"><image width="4" height="6" xlink:href="../img/c.jpg"/></svg>'
    )
    spec = EpubSpec(
        documents=[("text/cover.xhtml", page), ("text/c.xhtml", TEXT)],
        extra_files={"OEBPS/img/c.jpg": (jpeg := picture("JPEG", (400, 600)))},
    )
    assert ingest_file(spec.write(tmp_path)).cover == jpeg


def test_a_book_with_no_picture_has_no_cover(tmp_path: Path) -> None:
    path = EpubSpec(documents=[("c.xhtml", TEXT)]).write(tmp_path)
    assert ingest_file(path).cover is None
    assert inspect(path)["cover"] is None


def test_a_pdf_cover_is_its_first_page(tmp_path: Path) -> None:
    data = make_pdf([PdfPage(["A Title Page"]), PdfPage(["Chapter one begins here and goes on."])], title="T")
    book = ingest_file(write_text(tmp_path, "book.pdf", data))
    image = opened(book.cover)
    assert book.cover_media_type == "image/jpeg"
    assert image.format == "JPEG"
    assert max(image.size) == 1400
    assert image.size[0] < image.size[1]  # A4, upright
    # The title's ink is on it.
    assert min(image.convert("L").tobytes()) < 128


BAD_COVERS = {
    "a decompression bomb": (lambda: picture("PNG", (12_000, 12_000), 0, mode="1"), "too large to open"),
    "not a picture": (lambda: b"\xff\xd8\xff\xe0 this is no JPEG at all", "damaged or not a picture"),
    "text": (lambda: b"Just some words, declared a JPEG.", "not a picture we can read"),
    "a broken SVG": (lambda: b"<svg xmlns='http://www.w3.org/2000/svg'><rect", "not well-formed"),
}


@pytest.mark.parametrize("case", sorted(BAD_COVERS))
def test_a_bad_cover_is_a_warning_and_the_book_is_read_without_one(tmp_path: Path, case: str) -> None:
    make, message = BAD_COVERS[case]
    data = make()
    with pytest.raises(CoverRefused, match=message):
        normalise_cover(data)
    book = ingest_file(cover_epub(tmp_path, data, href="c.jpg", media_type="image/jpeg"))
    assert book.cover is None
    assert any(message in warning for warning in book.warnings), book.warnings
    assert [chapter.title for chapter in book.chapters] == ["One"]


def test_a_cover_over_30_mb_is_a_warning_and_the_book_is_read_without_one(tmp_path: Path) -> None:
    huge = b"\xff\xd8\xff\xe0" + bytes(MAX_COVER_BYTES)  # zeros: the archive stays small
    path = tmp_path / "book.epub"
    spec = EpubSpec(
        documents=[("c.xhtml", TEXT)],
        manifest_extra='<item id="cov" href="c.jpg" media-type="image/jpeg" properties="cover-image"/>',
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        for name, data in spec.files().items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
        # Stored, not deflated: zeros deflate past the archive's bomb ratio.
        archive.writestr("OEBPS/c.jpg", huge)
    book = ingest_file(path)
    assert book.cover is None
    assert any("larger than 30 MB" in warning for warning in book.warnings), book.warnings
    with pytest.raises(CoverRefused, match="covers may be up to 30 MB"):
        normalise_cover(huge)


def test_a_generated_cover_shows_the_title_and_differs_per_book() -> None:
    first = generated_cover("Leaves of Grass", ["Walt Whitman"])
    second = generated_cover("The Devil's Dictionary", ["Ambrose Bierce"])
    assert (first.media_type, first.width, first.height) == ("image/jpeg", 1400, 1400)
    one, two = opened(first.data).convert("RGB"), opened(second.data).convert("RGB")
    assert one.getpixel((700, 5)) != two.getpixel((700, 5))  # each its own colour
    # White type on the background, where the title goes.
    assert max(one.crop((100, 250, 1300, 500)).convert("L").tobytes()) > 200
