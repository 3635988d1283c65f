"""Every file in the test corpus (tests/corpus), with the behaviour its README asks for.

good/ is accepted and read right, bad/ is refused with a specific code and message,
tolerated/ is accepted with the defect shown as a warning.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from audiobooks.ingest import ErrorCode, IngestedBook, IngestError, ingest_file
from audiobooks.ingest.epub import MAX_DOCUMENT_BYTES
from audiobooks.ingest.safety import check_archive, open_zip
from ebookvoice.paths import corpus_dir

CORPUS = corpus_dir()

REJECTED = {
    "epub-tests_pub-xml-external-id.epub": ErrorCode.ENTITY_DECLARATION,
    "epubcheck_epub2_ocf-metainf-container-rootfile-full-path-missing-error.epub": ErrorCode.NO_PACKAGE_PATH,
    "epubcheck_ocf-container-file-missing-fatal.epub": ErrorCode.NO_CONTAINER,
    "epubcheck_ocf-container-not-ocf-error.epub": ErrorCode.NOT_AN_EPUB,
    "epubcheck_ocf-filename-duplicate-zip-entry-error.epub": ErrorCode.DUPLICATE_ENTRY,
    "epubcheck_ocf-filename-not-utf8-error.epub": ErrorCode.FILENAME_NOT_UTF8,
    "epubcheck_ocf-package-document-missing-fatal.epub": ErrorCode.MISSING_PACKAGE,
    "epubcheck_ocf-zip-unreadable-image-with-epub-extension-fatal.epub": ErrorCode.UNSUPPORTED_FORMAT,
    "epubcheck_ocf-zip-unreadable-no-end-header-fatal.epub": ErrorCode.CORRUPT_ZIP,
    "probe_billion_laughs_chapter.epub": ErrorCode.ENTITY_DECLARATION,
    "probe_billion_laughs_opf.epub": ErrorCode.ENTITY_DECLARATION,
    "probe_empty.epub": ErrorCode.EMPTY_FILE,
    "probe_empty_chapter.epub": ErrorCode.NO_TEXT,
    "probe_encrypted_chapter.epub": ErrorCode.DRM,
    "probe_no_spine.epub": ErrorCode.NO_SPINE,
    # "%PDF-1.4 not a zip": the bytes say PDF, whatever the name says, and it is not a readable one.
    "probe_not_a_zip.epub": ErrorCode.CORRUPT_PDF,
    "probe_ratio_1000_chapter_300MB.epub": ErrorCode.ZIP_BOMB,
    "probe_xxe_chapter_html.epub": ErrorCode.ENTITY_DECLARATION,
    "probe_xxe_opf.epub": ErrorCode.ENTITY_DECLARATION,
}
ACCEPTED = {
    "sherlock-holmes.epub",
    "epub-tests_ocf-font_obfuscation.epub",
    "probe_latin1_chapter.epub",
    "probe_utf16_chapter.epub",
    "probe_xss_title.epub",
}
# tolerated file -> words its warning must contain
TOLERATED = {
    "epubcheck_ocf-mimetype-file-missing-error.epub": "mimetype",
    "epubcheck_ocf-mimetype-file-incorrect-value-error.epub": "application/something+else",
    "epubcheck_ocf-url-leaking-in-opf-error.epub": "climb above its top folder",
    "epub-tests_ocf-url_link-leaking-relative.epub": "climb above its top folder",
    "epub-tests_pub-xml-non-validating_unclosed.epub": "not well-formed XML",
    "probe_missing_manifest_item.epub": "missing.xhtml",
    "probe_traversal_href.epub": "etc/passwd",
}


def corpus(folder: str) -> list[str]:
    return sorted(path.name for path in (CORPUS / folder).glob("*.epub"))


def everything_said(book: IngestedBook) -> str:
    """All text ingestion hands on: the place any leaked host data would show up."""
    parts = [book.title, *book.authors, *book.warnings]
    for chapter in book.chapters:
        parts += [chapter.title, chapter.text, chapter.reason]
    return "\n".join(parts)


def test_every_corpus_file_has_an_expected_outcome() -> None:
    assert corpus("bad") == sorted(REJECTED)
    assert corpus("good") == sorted(ACCEPTED)
    assert corpus("tolerated") == sorted(TOLERATED)


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_bad_file_is_refused_quickly_with_its_own_code_and_a_readable_message(name: str) -> None:
    started = time.monotonic()
    with pytest.raises(IngestError) as caught:
        ingest_file(CORPUS / "bad" / name)
    assert time.monotonic() - started < 5
    assert caught.value.code == REJECTED[name]
    message = caught.value.message
    assert 30 < len(message) < 400
    assert "Traceback" not in message
    assert "\n" not in message


def test_external_entity_text_never_appears_in_the_refusal() -> None:
    with pytest.raises(IngestError) as caught:
        ingest_file(CORPUS / "bad" / "epub-tests_pub-xml-external-id.epub")
    assert "The test fails." not in caught.value.message


@pytest.mark.parametrize("name", ["probe_xxe_chapter_html.epub", "probe_xxe_opf.epub"])
def test_xxe_never_reads_the_hosts_file(name: str) -> None:
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else "\0"
    with pytest.raises(IngestError) as caught:
        ingest_file(CORPUS / "bad" / name)
    assert hostname not in caught.value.message


def test_drm_refusal_says_drm_and_font_obfuscation_is_not_mistaken_for_it() -> None:
    with pytest.raises(IngestError) as caught:
        ingest_file(CORPUS / "bad" / "probe_encrypted_chapter.epub")
    assert "DRM-protected" in caught.value.message
    book = ingest_file(CORPUS / "good" / "epub-tests_ocf-font_obfuscation.epub")
    assert book.warnings == []


def test_zip_bomb_is_refused_from_its_headers_before_inflating() -> None:
    path = CORPUS / "bad" / "probe_ratio_1000_chapter_300MB.epub"
    with pytest.raises(IngestError) as caught:
        ingest_file(path)
    assert "zip bomb" in caught.value.message
    assert "1,028 times" in caught.value.message


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_good_file_is_accepted_without_warnings(name: str) -> None:
    book = ingest_file(CORPUS / "good" / name)
    assert book.warnings == []
    assert book.chapters
    assert all(chapter.words > 0 for chapter in book.chapters)


def test_font_obfuscation_book_reads_its_one_page() -> None:
    book = ingest_file(CORPUS / "good" / "epub-tests_ocf-font_obfuscation.epub")
    assert (book.title, book.language) == ("ocf-font_obfuscation", "en")
    assert [chapter.title for chapter in book.chapters] == ["Link to main page"]
    chapter = book.chapters[0]
    assert chapter.words == 30
    assert chapter.text.startswith("Test passes if the following text is rendered")
    assert chapter.text.endswith("Here is the image version:")


def test_latin1_chapter_decodes_exactly() -> None:
    book = ingest_file(CORPUS / "good" / "probe_latin1_chapter.epub")
    assert (book.title, book.language) == ("T", "en")
    assert [chapter.text for chapter in book.chapters] == ["café naïve"]


def test_utf16_chapter_decodes_exactly() -> None:
    book = ingest_file(CORPUS / "good" / "probe_utf16_chapter.epub")
    assert (book.title, book.language) == ("T", "en")
    assert [chapter.text for chapter in book.chapters] == ["café"]


def test_markup_in_a_title_is_kept_as_literal_text() -> None:
    book = ingest_file(CORPUS / "good" / "probe_xss_title.epub")
    assert book.title == "<script>alert(1)</script>"
    assert [chapter.text for chapter in book.chapters] == ["Hello"]


@pytest.mark.parametrize("name", sorted(TOLERATED))
def test_tolerated_file_is_accepted_with_its_defect_as_a_warning(name: str) -> None:
    book = ingest_file(CORPUS / "tolerated" / name)
    assert book.chapters
    assert book.words > 0
    assert any(TOLERATED[name] in warning for warning in book.warnings), book.warnings


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("epubcheck_ocf-mimetype-file-missing-error.epub", "Loomings\n\nCall me Ishmael."),
        ("epubcheck_ocf-mimetype-file-incorrect-value-error.epub", "Loomings\n\nCall me Ishmael."),
        ("epubcheck_ocf-url-leaking-in-opf-error.epub", "Loomings\n\nCall me Ishmael."),
        ("probe_missing_manifest_item.epub", "Hello"),
        ("probe_traversal_href.epub", "Hello"),
    ],
)
def test_tolerated_file_text_is_read_in_full(name: str, text: str) -> None:
    book = ingest_file(CORPUS / "tolerated" / name)
    assert [chapter.text for chapter in book.chapters] == [text]


def test_unclosed_tag_is_recovered_with_the_forgiving_parser() -> None:
    book = ingest_file(CORPUS / "tolerated" / "epub-tests_pub-xml-non-validating_unclosed.epub")
    assert book.chapters[0].text == (
        "Test passes if the reading system reports an error on this page.\n\n"
        "This paragraph has an unclosed tag."
    )


def test_hrefs_climbing_above_the_root_are_clamped_inside_the_archive() -> None:
    path = CORPUS / "tolerated" / "epub-tests_ocf-url_link-leaking-relative.epub"
    with open_zip(path, path.read_bytes()[:4]) as zf:
        archive = check_archive(zf)
        resolved = archive.resolve("EPUB/content_001.xhtml", "../../../../media/imgs/monastery.jpg")
        assert resolved == ("media/imgs/monastery.jpg", "")
        assert archive.find(resolved[0]) == "media/imgs/monastery.jpg"
        assert archive.read("media/imgs/monastery.jpg", MAX_DOCUMENT_BYTES)[:3] == b"\xff\xd8\xff"
    book = ingest_file(path)
    assert book.chapters[0].text.startswith("Test passes if the photo of the medieval monastery")


def test_traversal_href_never_opens_the_hosts_passwd() -> None:
    book = ingest_file(CORPUS / "tolerated" / "probe_traversal_href.epub")
    said = everything_said(book)
    for line in Path("/etc/passwd").read_text().splitlines()[:3]:
        assert line not in said
    assert "root:" not in said
