"""A zip written on the fly into a streamed response: nothing is stored, memory stays flat."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ZipEntry:
    name: str
    size: int
    modified: datetime
    chunks: Callable[[], Iterator[bytes]]


class _Sink:
    """A write-only file for ``zipfile``: it has no ``tell`` or ``seek``, so zipfile streams."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zip_stream(entries: Iterable[ZipEntry]) -> Iterator[bytes]:
    """The bytes of a zip of ``entries``, stored uncompressed (MP3s do not compress)."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for entry in entries:
            info = zipfile.ZipInfo(entry.name, date_time=entry.modified.timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = entry.size
            with archive.open(info, mode="w", force_zip64=entry.size >= zipfile.ZIP64_LIMIT) as target:
                for chunk in entry.chunks():
                    target.write(chunk)
                    if data := sink.take():
                        yield data
            if data := sink.take():
                yield data
    yield sink.take()
