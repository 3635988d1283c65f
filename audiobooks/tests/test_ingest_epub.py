"""EPUB behaviour on books made in the test: chapters, semantics, notes, safety."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from audiobooks.ingest import ErrorCode, IngestError, ingest_file
from audiobooks.ingest import safety as safety_module
from audiobooks.ingest.safety import clamp_join

from .ingest_fixtures import CONTAINER, EpubSpec, nav_list, paragraphs, picture, xhtml, zip_bytes


def chapter_map(path: Path) -> dict[str, str]:
    return {chapter.title: chapter.text for chapter in ingest_file(path).chapters}


# --- Chapters from the table of contents -------------------------------------------------


def test_chapter_starting_mid_document_is_sliced_at_its_anchor(tmp_path: Path) -> None:
    body = (
        '<section id="one"><h2>One</h2><p>First text.</p></section>'
        '<section id="two"><h2>Two</h2><p>Second text.</p></section>'
    )
    spec = EpubSpec(
        documents=[("both.xhtml", xhtml(body))],
        nav=nav_list([("Chapter One", "both.xhtml#one"), ("Chapter Two", "both.xhtml#two")]),
    )
    assert chapter_map(spec.write(tmp_path)) == {
        "Chapter One": "One\n\nFirst text.",
        "Chapter Two": "Two\n\nSecond text.",
    }


def test_anchor_in_the_middle_of_a_paragraph_still_cuts_there(tmp_path: Path) -> None:
    body = '<p>End of one. <a id="next"/>Start of two.</p>'
    spec = EpubSpec(
        documents=[("c.xhtml", xhtml(body))],
        nav=nav_list([("One", "c.xhtml"), ("Two", "c.xhtml#next")]),
    )
    assert chapter_map(spec.write(tmp_path)) == {"One": "End of one.", "Two": "Start of two."}


def test_spine_document_missing_from_the_toc_joins_the_chapter_before_it(tmp_path: Path) -> None:
    spec = EpubSpec(
        documents=[
            ("c1.xhtml", xhtml("<h1>One</h1><p>Part A.</p>")),
            ("c1b.xhtml", xhtml("<p>Part B, in a split file.</p>")),
            ("c2.xhtml", xhtml("<h1>Two</h1><p>Other.</p>")),
        ],
        nav=nav_list([("One", "c1.xhtml"), ("Two", "c2.xhtml")]),
    )
    assert chapter_map(spec.write(tmp_path)) == {
        "One": "One\n\nPart A.\n\nPart B, in a split file.",
        "Two": "Two\n\nOther.",
    }


def test_text_before_the_first_toc_entry_is_kept_as_its_own_chapter(tmp_path: Path) -> None:
    spec = EpubSpec(
        documents=[
            ("preface.xhtml", xhtml("<h1>A Word First</h1><p>Preface text.</p>")),
            ("c1.xhtml", xhtml("<p>Story.</p>")),
        ],
        nav=nav_list([("Story", "c1.xhtml")]),
    )
    chapters = ingest_file(spec.write(tmp_path)).chapters
    assert [(c.title, c.text, c.included) for c in chapters] == [
        ("A Word First", "A Word First\n\nPreface text.", True),
        ("Story", "Story.", True),
    ]


def test_uncovered_colophon_is_split_out_and_deselected(tmp_path: Path) -> None:
    spec = EpubSpec(
        documents=[
            ("c1.xhtml", xhtml("<p>Story.</p>")),
            ("colophon.xhtml", xhtml('<section epub:type="colophon"><p>Set in Garamond.</p></section>')),
        ],
        nav=nav_list([("Story", "c1.xhtml")]),
    )
    chapters = ingest_file(spec.write(tmp_path)).chapters
    assert [(c.text, c.included, c.reason) for c in chapters] == [
        ("Story.", True, ""),
        ("Set in Garamond.", False, "Colophon (back matter)"),
    ]


def test_ncx_gives_the_chapters_when_there_is_no_nav(tmp_path: Path) -> None:
    ncx = (
        '<navPoint id="a" playOrder="1"><navLabel><text>Opening</text></navLabel>'
        '<content src="a.xhtml"/></navPoint>'
        '<navPoint id="b" playOrder="2"><navLabel><text>Closing</text></navLabel>'
        '<content src="b.xhtml"/></navPoint>'
    )
    spec = EpubSpec(
        documents=[("a.xhtml", xhtml("<p>Alpha.</p>")), ("b.xhtml", xhtml("<p>Beta.</p>"))],
        ncx=ncx,
    )
    assert chapter_map(spec.write(tmp_path)) == {"Opening": "Alpha.", "Closing": "Beta."}


def test_spine_order_is_used_when_the_toc_points_nowhere(tmp_path: Path) -> None:
    spec = EpubSpec(
        documents=[
            ("a.xhtml", xhtml("<h2>First Heading</h2><p>Alpha.</p>")),
            ("b.xhtml", xhtml("<p>Beta.</p>", title="Doc Title")),
        ],
        nav=nav_list([("Gone", "missing.xhtml")]),
    )
    book = ingest_file(spec.write(tmp_path))
    assert [(c.title, c.text) for c in book.chapters] == [
        ("First Heading", "First Heading\n\nAlpha."),
        ("Doc Title", "Beta."),
    ]
    assert any("table of contents could not be used" in warning for warning in book.warnings)


def test_nested_entries_stay_inside_a_chapter_of_normal_length(tmp_path: Path) -> None:
    body = (
        '<h1>Part</h1><p>Intro.</p><section id="s1"><p>One.</p></section>'
        '<section id="s2"><p>Two.</p></section>'
    )
    spec = EpubSpec(
        documents=[("p.xhtml", xhtml(body))],
        nav=nav_list([("Part", "p.xhtml", [("S1", "p.xhtml#s1"), ("S2", "p.xhtml#s2")])]),
    )
    assert chapter_map(spec.write(tmp_path)) == {"Part": "Part\n\nIntro.\n\nOne.\n\nTwo."}


def test_overlong_chapter_is_split_at_its_children_recursively_with_parent_titles(tmp_path: Path) -> None:
    # ~130,000 characters per month: the diary and January are both over the limit.
    month = paragraphs(900, prefix="M")
    body = (
        "<h1>The Diary</h1>"
        '<section id="jan"><h2>January</h2>'
        f'<section id="jan1"><h3>1st</h3>{month}</section>'
        f'<section id="jan2"><h3>2nd</h3>{month}</section></section>'
        f'<section id="feb"><h2>February</h2>{month}</section>'
    )
    jan = ("January", "d.xhtml#jan", [("1st", "d.xhtml#jan1"), ("2nd", "d.xhtml#jan2")])
    nav = nav_list([("The Diary", "d.xhtml", [jan, ("February", "d.xhtml#feb")])])
    spec = EpubSpec(documents=[("d.xhtml", xhtml(body))], nav=nav)
    chapters = ingest_file(spec.write(tmp_path)).chapters
    assert [c.title for c in chapters] == [
        "The Diary — January — 1st",
        "The Diary — January — 2nd",
        "The Diary — February",
    ]
    # The short headings before the first child open it: nothing is lost.
    assert chapters[0].text.startswith("The Diary\n\nJanuary\n\n1st\n\n")
    assert all(chapter.chars <= 140_000 for chapter in chapters)
    total = sum(chapter.words for chapter in chapters)
    assert total == 3 * 900 * 12 + 6  # every paragraph word, plus the six heading words


def test_long_intro_before_the_first_child_becomes_a_chapter_of_its_own(tmp_path: Path) -> None:
    intro = paragraphs(40, prefix="I")  # ~5,000 characters
    body = f'<h1>Book</h1>{intro}<section id="a">{paragraphs(900, prefix="A")}</section>'
    body += f'<section id="b">{paragraphs(900, prefix="B")}</section>'
    nav = nav_list([("Book", "b.xhtml", [("A", "b.xhtml#a"), ("B", "b.xhtml#b")])])
    chapters = ingest_file(EpubSpec(documents=[("b.xhtml", xhtml(body))], nav=nav).write(tmp_path)).chapters
    assert [c.title for c in chapters] == ["Book", "Book — A", "Book — B"]


def test_link_less_heading_in_the_nav_starts_where_its_first_child_does(tmp_path: Path) -> None:
    nav = (
        '<nav epub:type="toc"><ol><li><span>Part One</span><ol>'
        '<li><a href="a.xhtml">A</a></li><li><a href="b.xhtml">B</a></li></ol></li>'
        '<li><a href="c.xhtml">C</a></li></ol></nav>'
    )
    spec = EpubSpec(
        documents=[
            ("a.xhtml", xhtml("<p>Aa.</p>")),
            ("b.xhtml", xhtml("<p>Bb.</p>")),
            ("c.xhtml", xhtml("<p>Cc.</p>")),
        ],
        nav=nav,
    )
    assert chapter_map(spec.write(tmp_path)) == {"Part One": "Aa.\n\nBb.", "C": "Cc."}


def test_two_entries_at_the_same_place_become_one_chapter(tmp_path: Path) -> None:
    spec = EpubSpec(
        documents=[("a.xhtml", xhtml("<p>Text.</p>"))],
        nav=nav_list([("Part One", "a.xhtml"), ("Chapter 1", "a.xhtml")]),
    )
    assert chapter_map(spec.write(tmp_path)) == {"Part One — Chapter 1": "Text."}


# --- Front and back matter, notes ---------------------------------------------------------


def test_front_matter_is_detected_from_landmarks(tmp_path: Path) -> None:
    nav = nav_list([("Rights", "r.xhtml"), ("Story", "s.xhtml")])
    nav += (
        '<nav epub:type="landmarks" hidden=""><ol>'
        '<li><a epub:type="copyright-page" href="r.xhtml">C</a></li></ol></nav>'
    )
    spec = EpubSpec(
        documents=[("r.xhtml", xhtml("<p>All rights reserved.</p>")), ("s.xhtml", xhtml("<p>Once.</p>"))],
        nav=nav,
    )
    chapters = ingest_file(spec.write(tmp_path)).chapters
    assert [(c.title, c.included, c.reason) for c in chapters] == [
        ("Rights", False, "Copyright page (front matter)"),
        ("Story", True, ""),
    ]


def test_front_matter_is_detected_from_the_epub2_guide(tmp_path: Path) -> None:
    spec = EpubSpec(
        documents=[("t.xhtml", xhtml("<p>My Book, by Me.</p>")), ("s.xhtml", xhtml("<p>Once.</p>"))],
        nav=nav_list([("Start", "t.xhtml"), ("Story", "s.xhtml")]),
        guide='<reference type="title-page" href="t.xhtml" title="T"/>',
    )
    chapters = ingest_file(spec.write(tmp_path)).chapters
    assert [(c.included, c.reason) for c in chapters] == [(False, "Title page (front matter)"), (True, "")]


def test_front_matter_is_detected_from_a_plain_title_when_the_book_has_no_semantics(tmp_path: Path) -> None:
    spec = EpubSpec(
        documents=[("c.xhtml", xhtml("<p>Chapter list.</p>")), ("s.xhtml", xhtml("<p>Once.</p>"))],
        nav=nav_list([("Contents", "c.xhtml"), ("Story", "s.xhtml")]),
    )
    chapters = ingest_file(spec.write(tmp_path)).chapters
    assert chapters[0].reason == "Table of contents (front matter)"
    assert not chapters[0].included


def test_non_linear_document_is_kept_but_deselected(tmp_path: Path) -> None:
    spec = EpubSpec(
        documents=[("s.xhtml", xhtml("<p>Story.</p>")), ("pop.xhtml", xhtml("<p>A pop-up answer.</p>"))],
        nav=nav_list([("Story", "s.xhtml")]),
        linear={"pop.xhtml": "no"},
    )
    chapters = ingest_file(spec.write(tmp_path)).chapters
    assert [(c.text, c.included) for c in chapters] == [("Story.", True), ("A pop-up answer.", False)]
    assert "reading order" in chapters[1].reason


def test_footnote_references_and_note_sections_are_not_read_inline(tmp_path: Path) -> None:
    body = (
        '<p>He said so<a epub:type="noteref" href="#n1">1</a> and left<sup><a href="#n2">2</a></sup>. '
        'Then<a class="fnanchor" href="#n3">[3]</a> he came back.</p>'
        '<aside epub:type="footnote" id="n1"><p>A footnote.</p></aside>'
        '<section epub:type="endnotes"><ol><li id="n2">An endnote.</li></ol></section>'
        '<div class="footnote" id="n3"><p>Gutenberg style note.</p></div>'
        "<p>Still chapter 12, page 3.</p>"
    )
    spec = EpubSpec(documents=[("c.xhtml", xhtml(body))], nav=nav_list([("C", "c.xhtml")]))
    assert chapter_map(spec.write(tmp_path)) == {
        "C": "He said so and left. Then he came back.\n\nStill chapter 12, page 3."
    }


def test_a_notes_only_document_is_kept_deselected(tmp_path: Path) -> None:
    notes = '<section epub:type="endnotes"><ol><li id="n1"><p>The note itself.</p></li></ol></section>'
    spec = EpubSpec(
        documents=[("c.xhtml", xhtml("<p>Body.</p>")), ("notes.xhtml", xhtml(notes))],
        nav=nav_list([("C", "c.xhtml"), ("Notes", "notes.xhtml")]),
    )
    chapters = ingest_file(spec.write(tmp_path)).chapters
    assert [(c.title, c.text, c.included) for c in chapters] == [
        ("C", "Body.", True),
        ("Notes", "The note itself.", False),
    ]


def test_scripts_styles_hidden_text_and_page_breaks_are_not_read(tmp_path: Path) -> None:
    body = (
        "<p>Kept.</p><script>alert('no')</script><style>p{}</style>"
        '<p hidden="">Hidden.</p><span epub:type="pagebreak" title="7">7</span>'
        "<p>Verse one<br/>verse two</p><math><mi>x</mi></math>"
    )
    spec = EpubSpec(documents=[("c.xhtml", xhtml(body))], nav=nav_list([("C", "c.xhtml")]))
    assert chapter_map(spec.write(tmp_path)) == {"C": "Kept.\n\nVerse one\nverse two"}


# --- Package details ----------------------------------------------------------------------


def test_cover_image_is_returned_with_its_media_type(tmp_path: Path) -> None:
    spec = EpubSpec(
        documents=[("c.xhtml", xhtml("<p>Text.</p>"))],
        manifest_extra='<item id="cov" href="cover.jpg" media-type="image/jpeg" properties="cover-image"/>',
        extra_files={"OEBPS/cover.jpg": (jpeg := picture("JPEG", (300, 450)))},
    )
    book = ingest_file(spec.write(tmp_path))
    assert (book.cover, book.cover_media_type) == (jpeg, "image/jpeg")


def test_epub2_cover_meta_is_understood(tmp_path: Path) -> None:
    spec = EpubSpec(
        documents=[("c.xhtml", xhtml("<p>Text.</p>"))],
        metadata_extra='<meta name="cover" content="cov"/>',
        manifest_extra='<item id="cov" href="img/c.png" media-type="image/png"/>',
        extra_files={"OEBPS/img/c.png": (png := picture("PNG", (40, 60)))},
    )
    book = ingest_file(spec.write(tmp_path))
    assert (book.cover, book.cover_media_type) == (png, "image/png")


def test_authors_are_creators_with_the_author_role_or_none(tmp_path: Path) -> None:
    metadata = (
        '<dc:creator id="a1">Ann Author</dc:creator><meta refines="#a1" property="role">aut</meta>'
        '<dc:creator id="t1">Tim Translator</dc:creator><meta refines="#t1" property="role">trl</meta>'
        '<dc:creator xmlns:opf="http://www.idpf.org/2007/opf" opf:role="edt">Ed Editor</dc:creator>'
        "<dc:creator>Bea Byline</dc:creator>"
    )
    spec = EpubSpec(documents=[("c.xhtml", xhtml("<p>T.</p>"))], metadata_extra=metadata)
    book = ingest_file(spec.write(tmp_path))
    assert book.authors == ["Ann Author", "Bea Byline"]
    assert book.contributors == [("Tim Translator", "trl"), ("Ed Editor", "edt")]


def test_missing_language_is_undetermined(tmp_path: Path) -> None:
    spec = EpubSpec(documents=[("c.xhtml", xhtml("<p>T.</p>"))], language="")
    assert ingest_file(spec.write(tmp_path)).language == "und"


def test_xhtml11_doctype_with_html_entities_reads_without_a_warning(tmp_path: Path) -> None:
    doc = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head>'
        "<body><p>Wait&nbsp;&mdash;&nbsp;what?</p></body></html>"
    )
    book = ingest_file(EpubSpec(documents=[("c.xhtml", doc)]).write(tmp_path))
    assert book.chapters[0].text == "Wait — what?"
    assert book.warnings == []


def test_href_differing_only_in_case_is_read_with_a_warning(tmp_path: Path) -> None:
    spec = EpubSpec(documents=[("Chapter.xhtml", xhtml("<p>Found.</p>"))])
    files = spec.files()
    files["OEBPS/chapter.xhtml"] = files.pop("OEBPS/Chapter.xhtml")
    path = tmp_path / "book.epub"
    path.write_bytes(zip_bytes(files))
    book = ingest_file(path)
    assert book.chapters[0].text == "Found."
    assert any("chapter.xhtml" in warning for warning in book.warnings)


def test_clamp_join_keeps_paths_inside_the_root() -> None:
    assert clamp_join("OEBPS", "../../../../etc/passwd") == ("etc/passwd", True)
    assert clamp_join("a/b", "../c/./d.xhtml") == ("a/c/d.xhtml", False)
    assert clamp_join("a", "/abs/x") == ("abs/x", False)
    assert clamp_join("", "x/../../y") == ("y", True)


# --- Refusals -----------------------------------------------------------------------------


def refusal(path: Path) -> IngestError:
    with pytest.raises(IngestError) as caught:
        ingest_file(path)
    return caught.value


def test_missing_spine_document_is_refused(tmp_path: Path) -> None:
    spec = EpubSpec(documents=[("c.xhtml", xhtml("<p>T.</p>")), ("gone.xhtml", "")])
    files = spec.files()
    del files["OEBPS/gone.xhtml"]
    path = tmp_path / "b.epub"
    path.write_bytes(zip_bytes(files))
    error = refusal(path)
    assert error.code == ErrorCode.MISSING_SPINE_DOCUMENT
    assert "gone.xhtml" in error.message


@pytest.mark.parametrize(
    ("member", "content"),
    [
        ("META-INF/rights.xml", "<rights/>"),
        ("META-INF/license.lcpl", "{}"),
        (
            "META-INF/encryption.xml",
            '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
            'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
            '<enc:EncryptionMethod Algorithm="http://ns.adobe.com/adept"/></enc:EncryptedData></encryption>',
        ),
    ],
)
def test_drm_markers_are_refused_as_drm(tmp_path: Path, member: str, content: str) -> None:
    spec = EpubSpec(documents=[("c.xhtml", xhtml("<p>T.</p>"))], extra_files={member: content})
    error = refusal(spec.write(tmp_path))
    assert error.code == ErrorCode.DRM
    assert "DRM-protected" in error.message


def test_adobe_font_mangling_is_not_mistaken_for_drm(tmp_path: Path) -> None:
    encryption = (
        '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
        'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
        '<enc:EncryptionMethod Algorithm="http://ns.adobe.com/pdf/enc#RC"/>'
        '<enc:CipherData><enc:CipherReference URI="OEBPS/f.otf"/></enc:CipherData>'
        "</enc:EncryptedData></encryption>"
    )
    spec = EpubSpec(
        documents=[("c.xhtml", xhtml("<p>Readable.</p>"))],
        extra_files={"META-INF/encryption.xml": encryption, "OEBPS/f.otf": b"\x00\x01 font"},
    )
    assert ingest_file(spec.write(tmp_path)).chapters[0].text == "Readable."


def test_entity_declaration_in_a_utf16_document_is_refused(tmp_path: Path) -> None:
    doc = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE html [<!ENTITY a "boom">]>'
        "<html><body>&a;</body></html>"
    )
    spec = EpubSpec(documents=[("c.xhtml", "")], extra_files={"OEBPS/c.xhtml": doc.encode("utf-16")})
    assert refusal(spec.write(tmp_path)).code == ErrorCode.ENTITY_DECLARATION


@pytest.mark.parametrize("well_formed", [True, False])
def test_entity_declaration_behind_a_long_prologue_is_refused_by_the_parsers(
    tmp_path: Path, well_formed: bool
) -> None:
    padding = "<!-- " + "x" * (300 * 1024) + " -->"  # past the pre-pass's head scan
    end = "</p></body></html>" if well_formed else "</body></html>"
    doc = f'<?xml version="1.0"?>{padding}<!DOCTYPE html [<!ENTITY a "boom">]><html><body><p>&a;{end}'
    spec = EpubSpec(documents=[("c.xhtml", doc)])
    assert refusal(spec.write(tmp_path)).code == ErrorCode.ENTITY_DECLARATION


def test_member_whose_header_understates_its_size_is_refused_as_damaged(tmp_path: Path) -> None:
    big = xhtml(paragraphs(2000))
    data = bytearray(EpubSpec(documents=[("c.xhtml", big)]).build())
    real = len(big.encode())
    # Rewrite the declared uncompressed size in both the local and the central header.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_length = struct.unpack_from("<H", data, start + (26 if signature == b"PK\x03\x04" else 28))[
                0
            ]
            name_start = start + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_start : name_start + name_length] == b"OEBPS/c.xhtml":
                assert struct.unpack_from("<I", data, start + offset)[0] == real
                struct.pack_into("<I", data, start + offset, 1000)
            start += 4
    path = tmp_path / "lying.epub"
    path.write_bytes(bytes(data))
    assert refusal(path).code == ErrorCode.CORRUPT_ZIP


def test_total_uncompressed_size_is_capped_while_streaming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safety_module, "MAX_TOTAL_BYTES", 64 * 1024)
    spec = EpubSpec(documents=[("c.xhtml", xhtml(paragraphs(1000)))])
    error = refusal(spec.write(tmp_path))
    assert error.code == ErrorCode.TOO_LARGE


def test_too_many_entries_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safety_module, "MAX_ENTRIES", 10)
    extra: dict[str, bytes | str] = {f"OEBPS/img{n}.png": b"x" for n in range(10)}
    spec = EpubSpec(documents=[("c.xhtml", xhtml("<p>T.</p>"))], extra_files=extra)
    assert refusal(spec.write(tmp_path)).code == ErrorCode.TOO_MANY_ENTRIES


def test_broken_package_document_is_refused_without_a_traceback(tmp_path: Path) -> None:
    files: dict[str, bytes | str] = {
        "META-INF/container.xml": CONTAINER,
        "OEBPS/content.opf": '<package xmlns="http://www.idpf.org/2007/opf"><metadata/>'
        '<manifest><item id="c" media-type="application/xhtml+xml"/></manifest>'
        '<spine><itemref idref="c"/></spine></package>',
    }
    path = tmp_path / "b.epub"
    path.write_bytes(zip_bytes(files))
    error = refusal(path)
    assert error.code in {ErrorCode.BAD_PACKAGE, ErrorCode.MISSING_SPINE_DOCUMENT}
    assert "Traceback" not in error.message


def test_deep_markup_keeps_its_text(tmp_path: Path) -> None:
    body = "<div>" * 5000 + "<p>Deep.</p>" + "</div>" * 5000 + "<p>After.</p>"
    spec = EpubSpec(documents=[("c.xhtml", xhtml(body))])
    assert [chapter.text for chapter in ingest_file(spec.write(tmp_path)).chapters] == ["Deep.\n\nAfter."]


def test_absurdly_deep_markup_is_refused_with_the_reason(tmp_path: Path) -> None:
    body = "<div>" * 60_000 + "<p>Deep.</p>" + "</div>" * 60_000
    error = refusal(EpubSpec(documents=[("c.xhtml", xhtml(body))]).write(tmp_path))
    assert error.code == ErrorCode.TOO_DEEP
    assert "50,000 levels deep" in error.message


def test_utf8_member_names_without_the_utf8_flag_are_accepted(tmp_path: Path) -> None:
    """Old zip tools write UTF-8 names without setting the flag; they still decode as UTF-8."""
    data = bytearray(EpubSpec(documents=[("café.xhtml", xhtml("<p>Olé.</p>"))]).build())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            flags = struct.unpack_from("<H", data, start + flag_offset)[0]
            struct.pack_into("<H", data, start + flag_offset, flags & ~0x800)
            start += 4
    path = tmp_path / "b.epub"
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        assert "OEBPS/café.xhtml" not in archive.namelist()  # zipfile now sees CP437 mojibake
    assert ingest_file(path).chapters[0].text == "Olé."


def test_text_before_the_first_anchor_in_its_document_is_not_lost(tmp_path: Path) -> None:
    body = '<p>An untitled opening.</p><section id="c1"><h2>One</h2><p>Story.</p></section>'
    spec = EpubSpec(documents=[("a.xhtml", xhtml(body))], nav=nav_list([("One", "a.xhtml#c1")]))
    chapters = ingest_file(spec.write(tmp_path)).chapters
    assert [(c.title, c.text) for c in chapters] == [
        ("Section 1", "An untitled opening."),
        ("One", "One\n\nStory."),
    ]


def test_the_nav_document_in_the_spine_is_kept_as_a_deselected_contents_page(tmp_path: Path) -> None:
    spec = EpubSpec(
        documents=[("s.xhtml", xhtml("<p>Story.</p>"))],
        nav=nav_list([("Story", "s.xhtml")]),
        manifest_extra="",
    )
    files = spec.files()
    files["OEBPS/content.opf"] = str(files["OEBPS/content.opf"]).replace(
        '<itemref idref="d0"/>', '<itemref idref="nav"/><itemref idref="d0"/>'
    )
    path = tmp_path / "b.epub"
    path.write_bytes(zip_bytes(files))
    chapters = ingest_file(path).chapters
    assert [(c.text, c.included, c.reason) for c in chapters] == [
        ("Story", False, "Table of contents (front matter)"),
        ("Story.", True, ""),
    ]


def test_untitled_entries_and_wordless_pages_are_handled(tmp_path: Path) -> None:
    spec = EpubSpec(
        documents=[
            ("img.xhtml", xhtml('<p><img src="x.png" alt="A picture"/></p><p>* * *</p>')),
            ("a.xhtml", xhtml("<h2>Its Heading</h2><p>Text.</p>")),
        ],
        nav=nav_list([("Picture", "img.xhtml"), ("", "a.xhtml")]),
    )
    chapters = ingest_file(spec.write(tmp_path)).chapters
    assert [(c.title, c.text) for c in chapters] == [("Its Heading", "Its Heading\n\nText.")]


def test_a_creator_with_several_roles_one_of_them_author_is_an_author(tmp_path: Path) -> None:
    # As Standard Ebooks' Leaves of Grass: Whitman is its author and more.
    metadata = (
        '<dc:creator id="author">Walt Whitman</dc:creator>'
        '<meta refines="#author" property="role" scheme="marc:relators">edt</meta>'
        '<meta refines="#author" property="role" scheme="marc:relators">aut</meta>'
        '<dc:creator id="ill">Ivy Illustrator</dc:creator>'
        '<meta refines="#ill" property="role" scheme="marc:relators">ill</meta>'
        '<meta refines="#ill" property="role" scheme="marc:relators">pht</meta>'
    )
    spec = EpubSpec(documents=[("c.xhtml", xhtml("<p>T.</p>"))], metadata_extra=metadata)
    book = ingest_file(spec.write(tmp_path))
    assert book.authors == ["Walt Whitman"]
    assert book.contributors == [("Ivy Illustrator", "ill")]


def test_a_chapter_title_that_repeats_the_book_title_loses_the_repeat(tmp_path: Path) -> None:
    titles = ["Leaves of Grass — Inscriptions", "LEAVES OF GRASS: Song of Myself", "Leaves of Grass",
              "Leaves of Grass Revisited", "Calamus"]  # fmt: skip
    documents = [
        (f"c{n}.xhtml", xhtml(f"<h1>{title}</h1><p>Words of the poem, line {n}.</p>"))
        for n, title in enumerate(titles)
    ]
    nav = nav_list([(title, f"c{n}.xhtml") for n, title in enumerate(titles)])
    spec = EpubSpec(documents=documents, nav=nav, title="Leaves of Grass")
    book = ingest_file(spec.write(tmp_path))
    assert [chapter.title for chapter in book.chapters] == [
        "Inscriptions",
        "Song of Myself",
        "Leaves of Grass",  # nothing left after the repeat: kept whole
        "Leaves of Grass Revisited",  # no separator: another title that starts the same way
        "Calamus",
    ]
