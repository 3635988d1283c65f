"""Cover images: any accepted picture in, a JPEG or PNG of at most 1400 px out.

Covers come from a book (EPUB, PDF) or from a reader's upload, and go into audio
files (MP4 `covr`, ID3 APIC) and pages, which take JPEG and PNG. So every cover is
checked and converted here, once:

* JPEG and PNG are kept as they are when they are small enough and plain RGB or grey;
* GIF, WebP, CMYK or oversized pictures are decoded and written again (first frame);
* SVG is rasterised with resvg, after every reference to anything outside the SVG
  itself is removed: resvg would otherwise read an absolute path from the local disk;
* a file over `MAX_COVER_BYTES`, a picture of more than `MAX_COVER_PIXELS` (a
  decompression bomb: a few KB that would decode to gigabytes), or a file that is no
  picture at all is refused with `CoverRefused`, whose message says why.

`generated_cover` draws one from the title and authors, for books that have none.
Plain Python, no Django.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import textwrap
import warnings
from dataclasses import dataclass

from lxml import etree
from PIL import Image, ImageDraw, ImageFont

from .safety import MiB
from .xmlsafe import parse_xml

MAX_COVER_BYTES = 30 * MiB
MAX_COVER_SIDE = 1400
# More than any real cover (a 6000 x 8000 scan is 48 MP); past it, decoding is the attack.
MAX_COVER_PIXELS = 50_000_000
JPEG_QUALITY = 88

_RASTER_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
_MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# The only references an SVG cover may keep: its own fragments and embedded raster images.
_EMBEDDED_IMAGE = re.compile(r"^data:image/(png|jpeg|jpg|gif|webp)(;[^,]*)?,", re.IGNORECASE)
_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(px)?\s*$")


class CoverRefused(Exception):
    """A picture that can't be a cover; `message` says why, for people, and `reason` for code:
    "too_large" (bytes), "too_many_pixels" (a decompression bomb) or "not_an_image"."""

    def __init__(self, message: str, *, reason: str = "not_an_image") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class Cover:
    data: bytes
    media_type: str  # image/jpeg or image/png
    width: int
    height: int


def sniff(data: bytes) -> str:
    """The picture format by its first bytes: JPEG, PNG, GIF, WEBP, SVG, or ""."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<") and b"<svg" in head:
        return "SVG"
    return ""


def normalise_cover(data: bytes) -> Cover:
    """`data` as a cover audio files and pages can carry, or CoverRefused."""
    if len(data) > MAX_COVER_BYTES:
        raise CoverRefused(
            f"The cover image is {len(data) / MiB:,.0f} MB; covers may be up to {MAX_COVER_BYTES // MiB} MB.",
            reason="too_large",
        )
    kind = sniff(data)
    if kind == "SVG":
        drawn = _open(rasterise_svg(data))
        drawn.load()
        return _encode(drawn.convert("RGB"))  # drawn on white: opaque, and smaller as JPEG
    if not kind:
        raise CoverRefused("The cover is not a picture we can read (we take JPEG, PNG, GIF, WebP and SVG).")
    return _from_raster(data, keep_bytes=kind in _MEDIA_TYPES)


def _from_raster(data: bytes, *, keep_bytes: bool) -> Cover:
    image = _open(data)
    width, height = image.size
    plain = image.mode in ("RGB", "L") or (image.format == "PNG" and image.mode in ("RGBA", "LA", "P"))
    if keep_bytes and plain and max(width, height) <= MAX_COVER_SIDE:
        try:
            image.load()  # a truncated or corrupt file fails here, not in a player
        except Exception as exc:
            raise _unreadable() from exc
        return Cover(data, _MEDIA_TYPES[str(image.format)], width, height)
    try:
        if image.format == "JPEG":
            image.draft("RGB", (MAX_COVER_SIDE, MAX_COVER_SIDE))  # decode at a fraction of the size
        image.seek(0)
        image.load()
        image.thumbnail((MAX_COVER_SIDE, MAX_COVER_SIDE), Image.Resampling.LANCZOS)
    except Exception as exc:
        raise _unreadable() from exc
    return _encode(image)


def _open(data: bytes) -> Image.Image:
    """The picture's header read, nothing decoded; refuses a bomb before any pixel is."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_RASTER_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb() from exc
    except Exception as exc:
        raise _unreadable() from exc
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_COVER_PIXELS:
        raise _bomb()
    return image


def _encode(image: Image.Image) -> Cover:
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    buffer = io.BytesIO()
    if transparent:
        image.convert("RGBA").save(buffer, "PNG", optimize=True)
        media_type = "image/png"
    else:
        image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
        media_type = "image/jpeg"
    return Cover(buffer.getvalue(), media_type, image.width, image.height)


def _bomb() -> CoverRefused:
    return CoverRefused(
        f"The cover image is too large to open (over {MAX_COVER_PIXELS // 1_000_000} million pixels).",
        reason="too_many_pixels",
    )


def _unreadable() -> CoverRefused:
    return CoverRefused("The cover image is damaged or not a picture, so it can't be used.")


def rasterise_svg(data: bytes) -> bytes:
    """The SVG drawn as a PNG at most MAX_COVER_SIDE px wide or high, fetching nothing."""
    import resvg_py  # noqa: PLC0415  (loaded only for the books that need it)

    root = parse_xml(data, "cover.svg", recover=False)
    if root is None or etree.QName(root).localname != "svg":
        raise CoverRefused("The SVG cover is not well-formed, so it can't be used.")
    _strip_references(root)
    width, height = _svg_size(root)
    scale = MAX_COVER_SIDE / max(width, height)
    try:
        png = resvg_py.svg_to_bytes(
            svg_string=etree.tostring(root, encoding="unicode"),
            width=max(1, round(width * scale)),
            background="#ffffff",
            skip_system_fonts=True,  # text in covers is drawn as paths; fonts are files outside the book
        )
    except ValueError as exc:
        raise CoverRefused("The SVG cover could not be drawn, so it can't be used.") from exc
    return bytes(png)


def _strip_references(root: etree._Element) -> None:
    """Remove every link to something outside the SVG: files, URLs, other SVGs.

    What stays: `#fragment` references inside the document, and raster images
    embedded as data: URIs whose size is checked here (resvg decodes them whole).
    """
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name in list(element.attrib):
            if name not in ("href", _XLINK_HREF):
                continue
            value = (element.get(name) or "").strip()
            if value.startswith("#") or _embedded_image_fits(value):
                continue
            del element.attrib[name]


def _embedded_image_fits(value: str) -> bool:
    if not _EMBEDDED_IMAGE.match(value):
        return False
    header, _, payload = value.partition(",")
    if ";base64" not in header.lower():
        return False
    try:
        raw = base64.b64decode(payload, validate=False)
        _open(raw)
    except (binascii.Error, ValueError, CoverRefused):
        return False
    return True


def _svg_size(root: etree._Element) -> tuple[float, float]:
    view_box = (root.get("viewBox") or "").replace(",", " ").split()
    if len(view_box) == 4:
        try:
            width, height = float(view_box[2]), float(view_box[3])
            if width > 0 and height > 0:
                return width, height
        except ValueError:
            pass
    sizes = [_LENGTH.match(root.get(name) or "") for name in ("width", "height")]
    if sizes[0] and sizes[1] and float(sizes[0][1]) > 0 and float(sizes[1][1]) > 0:
        return float(sizes[0][1]), float(sizes[1][1])
    return float(MAX_COVER_SIDE), float(MAX_COVER_SIDE)


# Calm, dark backgrounds on which white type reads well (contrast over 7:1).
_PALETTE = ((31, 58, 95), (74, 35, 90), (27, 77, 62), (110, 38, 38), (51, 51, 51), (24, 78, 119))


def generated_cover(title: str, authors: list[str]) -> Cover:
    """A square cover with the title and authors in type, for a book without a picture.

    The colour follows the title, so a book keeps its colour and neighbours differ.
    """
    side = MAX_COVER_SIDE
    digest = hashlib.sha256(title.encode("utf-8", "replace")).digest()
    background = _PALETTE[digest[0] % len(_PALETTE)]
    image = Image.new("RGB", (side, side), background)
    draw = ImageDraw.Draw(image)
    margin = side // 10
    draw.rectangle(
        (margin // 2, margin // 2, side - margin // 2, side - margin // 2), outline="#ffffff", width=6
    )
    # Type kept to the middle two thirds, so a page that shows the cover as a 2:3 book crops none of it.
    title_font = ImageFont.load_default(size=120)
    author_font = ImageFont.load_default(size=64)
    y = margin * 2
    for line in textwrap.wrap(title.strip() or "Untitled", width=13)[:6]:
        draw.text((side // 2, y), line, font=title_font, fill="#ffffff", anchor="ma")
        y += 145
    author = ", ".join(authors)
    if author:
        y = max(y + 80, side - margin * 3)
        for line in textwrap.wrap(author, width=22)[:2]:
            draw.text((side // 2, y), line, font=author_font, fill="#ffffff", anchor="ma")
            y += 84
    return _encode(image)
