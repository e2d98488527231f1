"""ZIP files: open them defensively (zip bombs, damaged archives, GBK member names) and pick the member
that is the report. Reading the picked member is the dispatcher's job; this module never recurses.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from parsers.formats.errors import ZIP_ERRORS, DocumentError
from parsers.formats.sniff import format_from_name

MAX_MEMBERS = 1000
EXPANSION_FACTOR = 4  # total uncompressed size allowed, as a multiple of the parse limit
_UTF8_NAME_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_FORMAT_RANK = {"pdf": 0, "docx": 1, "doc": 2, "wps": 2, "html": 3, "text": 4, "image": 5}
_REPORT_NAME = re.compile(r"年报|年度报告")
_ANY_REPORT_NAME = re.compile(r"报告|总结")
_JUNK_NAME = re.compile(r"(^|/)(__MACOSX/|\._|Thumbs\.db$|\.DS_Store$)")


@dataclass(frozen=True)
class ArchiveMember:
    name: str
    data: bytes
    others: list[str] = field(default_factory=list)  # the members not chosen


def check_zip_limits(data: bytes, *, max_bytes: int, what: str = "ZIP") -> None:
    """Refuse archives that are damaged, hold too many members or would expand past the limit.

    Only the central directory is read. A member's declared size also caps how much zipfile will ever
    inflate from it, so these checks bound memory even for a forged directory.
    """
    with _open(data, what) as archive:
        _check_directory(archive.infolist(), max_bytes, what)


def pick_report_member(data: bytes, *, max_bytes: int) -> ArchiveMember:
    """The member most likely to be the report, read into memory (at most ``max_bytes``)."""
    with _open(data, "ZIP") as archive:
        infos = archive.infolist()
        _check_directory(infos, max_bytes, "ZIP")
        names = {info: _member_name(info) for info in infos}
        files = [info for info in infos if not info.is_dir() and not _JUNK_NAME.search(names[info])]
        if any(names[info].rsplit("/", 1)[-1].upper() == "OFD.XML" for info in files):
            raise DocumentError("OFD documents are not supported yet (the file is an OFD package)", format="zip")
        candidates = [info for info in files if format_from_name(names[info]) in _FORMAT_RANK]
        if not candidates:
            listing = ", ".join(names[info] for info in files[:10]) or "none"
            raise DocumentError(f"ZIP holds no document to read (members: {listing})", format="zip")
        chosen = min(candidates, key=lambda info: _preference(names[info], info))
        member_data = _read_member(archive, chosen, names[chosen], max_bytes)
        others = [names[info] for info in files if info is not chosen]
        return ArchiveMember(name=names[chosen], data=member_data, others=others)


def _open(data: bytes, what: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS as exc:
        raise DocumentError(f"{what} is damaged: not a readable ZIP archive ({exc})", format=what.lower()) from exc


def _check_directory(infos: list[zipfile.ZipInfo], max_bytes: int, what: str) -> None:
    if len(infos) > MAX_MEMBERS:
        raise DocumentError(f"{what} holds {len(infos)} files, over the limit of {MAX_MEMBERS}", format=what.lower())
    total = sum(info.file_size for info in infos)
    limit = EXPANSION_FACTOR * max_bytes
    if total > limit:
        raise DocumentError(f"{what} would expand to {total / 2**20:.1f} MB, over the {limit / 2**20:g} MB limit "
                            f"(possible zip bomb)", format=what.lower())


def _member_name(info: zipfile.ZipInfo) -> str:
    """Chinese ZIP tools write GBK names without the UTF-8 flag; zipfile then decodes them as CP437."""
    if info.flag_bits & _UTF8_NAME_FLAG:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _preference(name: str, info: zipfile.ZipInfo) -> tuple[int, int, int]:
    basename = name.rsplit("/", 1)[-1]
    if _REPORT_NAME.search(basename):
        name_rank = 0
    elif _ANY_REPORT_NAME.search(basename):
        name_rank = 1
    else:
        name_rank = 2
    return name_rank, _FORMAT_RANK[format_from_name(name)], -info.file_size


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, max_bytes: int) -> bytes:
    if info.flag_bits & _ENCRYPTED_FLAG:
        raise DocumentError(f"ZIP member {name} is password-protected", format="zip")
    if info.file_size > max_bytes:
        raise DocumentError(f"ZIP member {name} is {info.file_size / 2**20:.1f} MB, over the "
                            f"{max_bytes / 2**20:g} MB parse limit", format="zip")
    try:
        with archive.open(info) as member:
            return member.read(max_bytes)
    except ZIP_ERRORS as exc:
        raise DocumentError(f"ZIP member {name} cannot be extracted: {exc}", format="zip") from exc
