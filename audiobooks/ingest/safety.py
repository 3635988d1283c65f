"""The bounded pre-pass over a ZIP container, run before anything parses a book.

ebooklib and every other reader load archive members whole, so a zip bomb, a hostile
entry name or an entity bomb has to be stopped here, while we still only look at
headers and stream members in small chunks with a running cap.
"""

from __future__ import annotations

import posixpath
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import ErrorCode, IngestError, shown
from .xmlsafe import declares_entities, parse_xml, refuse_entities

MiB = 1024 * 1024

MAX_ENTRIES = 10_000
# One member, uncompressed. Books are text plus pictures; nothing real comes near this.
MAX_ENTRY_BYTES = 256 * MiB
# All members together, uncompressed: counted from the bytes actually inflated.
MAX_TOTAL_BYTES = 1024 * MiB
# Text deflates 3-6:1 and images barely at all; 100:1 over a megabyte is a bomb.
MAX_RATIO = 100
RATIO_FLOOR_BYTES = 1 * MiB
CHUNK_BYTES = 64 * 1024
# Entity declarations live in the DOCTYPE at the top; the parsers re-check the rest.
SCAN_HEAD_BYTES = 256 * 1024

# Members we never parse as markup, so their bytes need no entity scan.
_MEDIA_SUFFIXES = (
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".avif",
    ".ttf", ".otf", ".woff", ".woff2", ".mp3", ".mp4", ".m4a", ".aac", ".ogg", ".opus",
    ".wav", ".webm", ".mov",
)  # fmt: skip

# "Made on" values whose high external attributes are a Unix mode: Unix and macOS.
_UNIX_SYSTEMS = frozenset({3, 19})
_SPECIAL_KINDS = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}

# Algorithms that scramble fonts only (the text stays readable): not DRM.
FONT_OBFUSCATION_ALGORITHMS = frozenset(
    {
        "http://www.idpf.org/2008/embedding",  # IDPF font obfuscation
        "http://ns.adobe.com/pdf/enc#RC",  # Adobe font mangling
    }
)
# Rights files that only exist in DRM-wrapped books.
DRM_FILES = {
    "meta-inf/rights.xml": "Adobe DRM",
    "meta-inf/license.lcpl": "Readium LCP",
    "meta-inf/sinf.xml": "Apple FairPlay",
}
ENCRYPTION_XML = "META-INF/encryption.xml"
_XMLENC_NS = "http://www.w3.org/2001/04/xmlenc#"


def _drm_error(detail: str) -> IngestError:
    return IngestError(
        ErrorCode.DRM,
        f"This book is DRM-protected ({detail}), so it can't be read. Please upload a DRM-free copy.",
    )


@dataclass
class CheckedArchive:
    """A ZIP that passed the pre-pass: clean names, honest sizes, no DRM, no entities.

    Everything later reads members through `read`, which resolves names the EPUB way
    (clamped at the root) and never reads more than it is allowed.
    """

    zf: zipfile.ZipFile
    entries: dict[str, zipfile.ZipInfo]
    warnings: list[str] = field(default_factory=list)
    clamped: set[str] = field(default_factory=set)
    # Each member's size as really inflated by the pre-pass, whatever its header says.
    sizes: dict[str, int] = field(default_factory=dict)
    _folded: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.entries:
            key = name.casefold()
            # Two names differing only in case make a case-blind match ambiguous: no match.
            self._folded[key] = None if key in self._folded else name

    def resolve(self, referrer: str, href: str) -> tuple[str, str] | None:
        """The archive path and fragment that an href in member `referrer` names; None
        for remote URLs."""
        parts = urlsplit(href.strip())
        if parts.scheme or parts.netloc:
            return None
        if not parts.path:
            return referrer, unquote(parts.fragment)
        path = self.resolve_path(posixpath.dirname(referrer), unquote(parts.path))
        return path, unquote(parts.fragment)

    def resolve_path(self, base_dir: str, path: str) -> str:
        """Resolve an already-decoded path. EPUB 3.3 resolves against a container root
        with nothing above it, so `..` segments that would climb out stop at the root."""
        resolved, was_clamped = clamp_join(base_dir, path)
        if was_clamped:
            self.clamped.add(path)
        return resolved

    def find(self, path: str) -> str | None:
        """The member name for a resolved path: exact, else unambiguous case-blind match."""
        if path in self.entries:
            return path
        folded = self._folded.get(path.casefold())
        if folded is not None:
            self.warnings.append(
                f"The book refers to “{shown(path)}”, but the file is called “{shown(folded)}”; "
                "we used it anyway."
            )
        return folded

    def read(self, name: str, limit: int) -> bytes:
        """A member's bytes, refusing (not truncating) anything over `limit`."""
        return b"".join(self.stream(name, limit))

    def stream(self, name: str, limit: int) -> Iterator[bytes]:
        """A member's bytes in chunks, refusing (not truncating) anything over `limit`."""
        size = 0
        for chunk in _stream(self.zf, self.entries[name]):
            size += len(chunk)
            if size > limit:
                raise _member_too_large(name, limit)
            yield chunk

    def check_size(self, name: str, limit: int) -> None:
        """Refuse a member the pre-pass found larger than `limit`, before reading it."""
        if self.sizes.get(name, 0) > limit:
            raise _member_too_large(name, limit)


def _member_too_large(name: str, limit: int) -> IngestError:
    return IngestError(
        ErrorCode.TOO_LARGE,
        f"{shown(name)} is too large to read (more than {limit // MiB} MB uncompressed).",
    )


def clamp_join(base_dir: str, path: str) -> tuple[str, bool]:
    """Join and normalise like posixpath, except that `..` at the root stays at the root."""
    stack = [] if path.startswith("/") else [seg for seg in base_dir.split("/") if seg]
    clamped = False
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if stack:
                stack.pop()
            else:
                clamped = True
            continue
        stack.append(segment)
    return "/".join(stack), clamped


def open_zip(path: Path, head: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        if head.startswith(b"PK"):
            raise IngestError(
                ErrorCode.CORRUPT_ZIP,
                "This file starts like an EPUB (a ZIP archive) but is damaged or incomplete: its "
                "table of contents is missing. The upload may have been cut short; please try again "
                "with a fresh copy.",
            ) from exc
        raise IngestError(
            ErrorCode.NOT_A_ZIP,
            "This file is not an EPUB: an EPUB is a ZIP archive, and this file isn't one.",
        ) from exc


def check_archive(zf: zipfile.ZipFile) -> CheckedArchive:
    """Run every pre-pass check; raise IngestError on the first failure."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise IngestError(
            ErrorCode.TOO_MANY_ENTRIES,
            f"This file holds {len(infos):,} files; ebooks have far fewer, so we refused it "
            f"(the limit is {MAX_ENTRIES:,}).",
        )
    entries = _index_names(infos)
    _check_declared_sizes(entries)
    archive = CheckedArchive(zf=zf, entries=entries)
    _check_drm(archive)
    _stream_and_scan(archive)
    return archive


def _index_names(infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = _utf8_name(info)
        if name.endswith("/"):
            continue
        if name in entries:
            raise IngestError(
                ErrorCode.DUPLICATE_ENTRY,
                f"This EPUB contains “{shown(name)}” twice. Different readers would pick different "
                "copies, so we can't tell which one is the book.",
            )
        _refuse_special(info, name)
        if info.flag_bits & 0x1:
            raise IngestError(
                ErrorCode.ENCRYPTED_ZIP,
                "This file is a password-protected ZIP archive, so it can't be read. "
                "Please upload an unprotected copy.",
            )
        entries[name] = info
    return entries


def _refuse_special(info: zipfile.ZipInfo, name: str) -> None:
    """Refuse an entry whose Unix mode makes it a symlink, device, pipe or socket (or a
    folder without a folder's name): a book is only regular files, and such an entry
    is never followed, nor read as text."""
    if info.create_system not in _UNIX_SYSTEMS:
        return
    mode = info.external_attr >> 16
    if not stat.S_IFMT(mode) or stat.S_ISREG(mode):
        return
    kind = _SPECIAL_KINDS.get(stat.S_IFMT(mode), "not a regular file")
    raise IngestError(
        ErrorCode.ZIP_SPECIAL_ENTRY,
        f"This file's archive holds “{shown(name)}”, which is {kind}, not a regular file. Books hold "
        "only regular files, so we refused it without opening that entry.",
    )


def _utf8_name(info: zipfile.ZipInfo) -> str:
    """The member name as UTF-8 text, as OCF requires.

    Without the UTF-8 flag, zipfile decodes names as CP437; re-encoding gives back the
    raw bytes, which must still be valid UTF-8 or the OPF's hrefs cannot match them.
    """
    if info.flag_bits & 0x800:
        name = info.filename
    else:
        raw = info.orig_filename.encode("cp437")
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise IngestError(
                ErrorCode.FILENAME_NOT_UTF8,
                f"A file name inside this EPUB is not valid UTF-8 (“{shown(info.filename)}”), so the "
                "book's references to it can't be matched. Please re-export the book.",
            ) from None
    return name.replace("\\", "/")


def _check_declared_sizes(entries: dict[str, zipfile.ZipInfo]) -> None:
    total = 0
    for name, info in entries.items():
        _check_size(name, info.file_size, info.compress_size)
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise _too_big_total()


def _check_size(name: str, size: int, compressed: int) -> None:
    if size > RATIO_FLOOR_BYTES and size > MAX_RATIO * max(compressed, 1):
        raise IngestError(
            ErrorCode.ZIP_BOMB,
            f"{shown(name)} would unpack to {size // max(compressed, 1):,} times its packed size "
            f"({size / MiB:,.0f} MB). Real books don't compress like that, so we refused the file "
            "as a possible zip bomb.",
        )
    if size > MAX_ENTRY_BYTES:
        raise IngestError(
            ErrorCode.TOO_LARGE,
            f"{shown(name)} unpacks to more than {MAX_ENTRY_BYTES // MiB} MB, which is more than we "
            "accept for one file inside a book.",
        )


def _too_big_total() -> IngestError:
    return IngestError(
        ErrorCode.TOO_LARGE,
        f"This book unpacks to more than {MAX_TOTAL_BYTES // MiB:,} MB, which is more than we accept.",
    )


def _check_drm(archive: CheckedArchive) -> None:
    for name in archive.entries:
        detail = DRM_FILES.get(name.casefold())
        if detail:
            raise _drm_error(detail)
    if ENCRYPTION_XML not in archive.entries:
        return
    root = parse_xml(archive.read(ENCRYPTION_XML, 4 * MiB), ENCRYPTION_XML, recover=True)
    if root is None:
        raise _drm_error("its encryption declaration can't be read")
    for method in root.iter(f"{{{_XMLENC_NS}}}EncryptionMethod"):
        algorithm = (method.get("Algorithm") or "").strip()
        if algorithm not in FONT_OBFUSCATION_ALGORITHMS:
            raise _drm_error(f"its content is encrypted with {shown(algorithm) or 'an unnamed method'}")


def _stream_and_scan(archive: CheckedArchive) -> None:
    """Inflate every member in chunks, counting real bytes against the limits, and scan
    the head of every markup file for entity declarations."""
    total = 0
    for name, info in archive.entries.items():
        scan = not name.lower().endswith(_MEDIA_SUFFIXES)
        head = bytearray()
        size = 0
        for chunk in _stream(archive.zf, info):
            size += len(chunk)
            total += len(chunk)
            # zipfile itself stops at the declared size and then fails the CRC check; these
            # caps on the bytes really inflated hold even if it did not.
            if size > MAX_ENTRY_BYTES:
                _check_size(name, size, info.compress_size)
            if total > MAX_TOTAL_BYTES:
                raise _too_big_total()
            if scan and len(head) < SCAN_HEAD_BYTES:
                head += chunk[: SCAN_HEAD_BYTES - len(head)]
        _check_size(name, size, info.compress_size)
        archive.sizes[name] = size
        if scan and declares_entities(bytes(head)):
            raise refuse_entities(name)


def _stream(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    try:
        with zf.open(info) as member:
            while chunk := member.read(CHUNK_BYTES):
                yield chunk
    except NotImplementedError as exc:  # Deflate64 and other methods zipfile lacks
        raise IngestError(
            ErrorCode.CORRUPT_ZIP,
            f"{shown(info.filename)} inside this file is packed with a compression method we can't "
            "unpack. Please re-save the book as a standard EPUB.",
        ) from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise IngestError(
            ErrorCode.CORRUPT_ZIP,
            f"{shown(info.filename)} inside this file is damaged and can't be unpacked. "
            "Please try again with a fresh copy of the book.",
        ) from exc
