"""Word 97-2003 (.doc), WPS and RTF files, converted to text by external tools.

antiword first (fast, keeps tables as rows), then catdoc, then LibreOffice headless (slow, but reads
almost anything). Each runs on a temp file in its own process group with a timeout, so a converter that
hangs is killed with everything it started.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from parsers.formats.errors import DocumentError
from parsers.formats.titles import guess_title
from parsers.record import ExtractedDocument, FetchContext

CONVERTER_TIMEOUT = 30.0
_PLAUSIBLE_SHARE = 0.85  # of characters that are ordinary text; catdoc prints binary junk as "text"
# UTF-16 text misread as a Western code page: no Chinese report contains these, catdoc's output sometimes
# does (it garbles long Unicode paragraphs of Word 97 files that antiword and LibreOffice read correctly).
_MOJIBAKE = re.compile(r"[\u0080-\u009f\u00a1-\u00a6\u00a8-\u00af\u00b4-\u00b6\u00b8-\u00d6\u00d8-\u00f6"
                       r"\u00f8-\u02ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2020\u2021"
                       r"\u2030\u2039\u203a\u20ac\u2122\ue000-\uf8ff\ufffd]")
_MOJIBAKE_TOLERANCE = 2
_ORDINARY = re.compile(r"[\s\x20-\x7e\u00a0\u00b0\u00b1\u00b7\u00d7\u00f7\u2000-\u206f\u2e80-\u2fff\u3000-\u303f\u3400-\u4dbf"
                       r"\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")
_ANTIWORD_ROW = re.compile(r"^\|.*\|\s*$")


@dataclass(frozen=True)
class Converter:
    name: str
    program: str
    package: str  # the Debian package that provides ``program``
    argv: Callable[[str, Path, Path], list[str]]  # (program path, input file, work dir) -> command line
    output: Callable[[Path, Path, bytes], bytes]  # (input file, work dir, stdout) -> text bytes


def _soffice_argv(program: str, source: Path, work: Path) -> list[str]:
    # A profile of its own: parallel conversions must not fight over one user installation's lock.
    return [program, "--headless", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--convert-to", "txt:Text (encoded):UTF8", "--outdir", str(work / "out"), str(source)]


def _soffice_output(source: Path, work: Path, stdout: bytes) -> bytes:
    result = work / "out" / f"{source.stem}.txt"
    return result.read_bytes() if result.is_file() else b""


CONVERTERS = (
    Converter("antiword", "antiword", "antiword",
              lambda program, source, work: [program, "-m", "UTF-8.txt", "-w", "0", str(source)],
              lambda source, work, stdout: stdout),
    Converter("catdoc", "catdoc", "catdoc",
              lambda program, source, work: [program, "-d", "utf-8", "-w", str(source)],
              lambda source, work, stdout: stdout),
    Converter("LibreOffice", "soffice", "libreoffice-writer-nogui", _soffice_argv, _soffice_output),
)


def read_doc(data: bytes, context: FetchContext, *, format: str = "doc",
             timeout: float = CONVERTER_TIMEOUT) -> ExtractedDocument:
    """Convert a DOC/WPS/RTF file to text; tables come out as tab-separated rows."""
    failures: list[str] = []
    missing: list[Converter] = []
    suffix = ".rtf" if data.startswith(b"{\\rtf") else ".doc"
    for converter in CONVERTERS:
        program = shutil.which(converter.program)
        if program is None:
            missing.append(converter)
            continue
        text, failure = _convert(converter, program, data, suffix, timeout)
        if text is None:
            failures.append(f"{converter.name}: {failure}")
            continue
        doc = ExtractedDocument(format=format, text=text, title=guess_title(text))
        if failures:
            doc.warnings.append(f"用 {converter.name} 转换（{'；'.join(failures)}）")
        return doc

    if missing and not failures:
        packages = " ".join(converter.package for converter in missing)
        raise DocumentError(f"cannot read .{format}: no converter installed (apt-get install {packages})",
                            format=format)
    reasons = failures + [f"{c.name} not installed (apt-get install {c.package})" for c in missing]
    raise DocumentError(f"{format.upper()} could not be converted to text: {'; '.join(reasons)}"[:280],
                        format=format)


def _convert(converter: Converter, program: str, data: bytes, suffix: str,
             timeout: float) -> tuple[str | None, str]:
    with tempfile.TemporaryDirectory(prefix="xxgk-doc-") as work_dir:
        work = Path(work_dir)
        source = work / f"document{suffix}"
        source.write_bytes(data)
        try:
            returncode, stdout, stderr = _run(converter.argv(program, source, work), timeout, work)
        except subprocess.TimeoutExpired:
            return None, f"timed out after {timeout:g} s"
        except OSError as exc:
            return None, f"could not start ({exc.strerror or exc})"
        output = converter.output(source, work, stdout)
    if returncode != 0:
        return None, _first_line(stderr) or f"exit status {returncode}"
    text = _clean_text(output.decode("utf-8", "replace"))
    if not text.strip():
        return None, "no text"
    if not _plausible(text):
        return None, "output is not text"
    if len(_MOJIBAKE.findall(text)) >= _MOJIBAKE_TOLERANCE:
        return None, "output is garbled"
    return text, ""


def _run(argv: list[str], timeout: float, work: Path) -> tuple[int, bytes, bytes]:
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8", HOME=str(work))
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=work, env=env, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the group we created: soffice forks soffice.bin
        process.communicate()
        raise
    return process.returncode, stdout, stderr


def _clean_text(text: str) -> str:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    lines = []
    for line in text.split("\n"):
        if _ANTIWORD_ROW.match(line):  # "|信息内容   |本年制发件数 |" -> tab-separated cells
            cells = [cell.strip() for cell in line.strip()[1:-1].split("|")]
            line = "\t".join(cell for cell in cells if cell)
        lines.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _plausible(text: str) -> bool:
    sample = text[:20000]
    return len(_ORDINARY.findall(sample)) >= _PLAUSIBLE_SHARE * len(sample)


def _first_line(stderr: bytes) -> str:
    for line in stderr.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()[:100]
    return ""
