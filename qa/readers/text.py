"""Plain text and Markdown, and the one decoder for every text file (documents and
question files alike).

Every decoding is judged by its plausibility: no replacement characters, few control
characters, and (for the legacy encodings GB18030 and Big5, which decode almost any
bytes without error) a high share of common Chinese characters. Text no decoding makes
plausible is refused rather than indexed as nonsense.
"""

from __future__ import annotations

import codecs
import logging
from functools import lru_cache

from .base import BINARY, UNDECODABLE, Extract, ReadOptions, UnreadableDocument

log = logging.getLogger(__name__)

MIN_COMMON_SHARE = 0.9  # of the non-ASCII characters, for GB18030/Big5 decodings
MAX_KANA_SHARE = 0.02  # GB2312 has kana where EUC-JP has them: Japanese is not our text
LOSSY_UTF8_SHARE = 20  # question files: ≤ 1 bad byte per this many non-ASCII chars
_LEGACY = ("gb18030", "big5")


@lru_cache(maxsize=1)
def common_characters() -> frozenset[str]:
    """Frequent Chinese characters: GB2312's 6763 hanzi (simplified) and Big5's 5401
    level-1 characters (traditional), plus CJK and full-width punctuation."""
    chars: set[str] = set()
    for lead in range(0xB0, 0xF8):  # GB2312 hanzi rows
        for trail in range(0xA1, 0xFF):
            try:
                chars.add(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    for lead in range(0xA4, 0xC7):  # Big5 level 1 (A440–C67E)
        for trail in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            try:
                chars.add(bytes((lead, trail)).decode("big5"))
            except UnicodeDecodeError:
                pass
    chars.update(chr(c) for c in range(0x3000, 0x3040))  # CJK punctuation
    chars.update(chr(c) for c in range(0xFF01, 0xFF5F))  # full-width forms
    chars.update(chr(c) for c in range(0x2010, 0x2070))  # “”‘’—…
    chars.update("·×÷°±№")
    return frozenset(chars)


def _controls(text: str) -> int:
    return sum(1 for c in text if (ord(c) < 32 and c not in "\r\n\t\f") or c == "\ufffd")


def common_share(text: str) -> float:
    """Share of the non-ASCII, non-space characters of ``text`` that are common Chinese
    characters or punctuation (1.0 for pure ASCII)."""
    wide = [c for c in text if ord(c) > 127 and not c.isspace()]
    if not wide:
        return 1.0
    common = common_characters()
    return sum(1 for c in wide if c in common) / len(wide)


def plausible(text: str, legacy: bool = False) -> bool:
    """Real text rather than mis-decoded bytes."""
    if "\ufffd" in text or _controls(text) > max(2, len(text) // 200):
        return False
    if not legacy:
        return True
    return common_share(text) >= MIN_COMMON_SHARE and kana_share(text) <= MAX_KANA_SHARE


def kana_share(text: str) -> float:
    wide = [c for c in text if ord(c) > 127 and not c.isspace()]
    return sum(1 for c in wide if "\u3040" <= c <= "\u30ff") / len(wide) if wide else 0.0


def decode(data: bytes, allow_lossy: bool = False) -> tuple[str, str, bool]:
    """``(text, encoding, lossy)`` of ``data``: UTF-8 (BOM or not), UTF-16 with BOM,
    else the more plausible of GB18030 and Big5.

    With ``allow_lossy`` (question files, judged row by row) mostly-valid UTF-8 stays
    UTF-8 with U+FFFD for the bad bytes, and undecodable data comes back lossy;
    otherwise ``UnreadableDocument`` says why the bytes are not text.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
        if plausible(text) or allow_lossy:
            return text, "utf-16", "\ufffd" in text
        raise UnreadableDocument(UNDECODABLE)
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if b"\x00" in data[:8192]:
        raise UnreadableDocument(BINARY)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if plausible(text) or allow_lossy:
            return text, "utf-8", False
        raise UnreadableDocument(UNDECODABLE)
    if allow_lossy:  # a few bad bytes in UTF-8: other encodings would garble it all
        text = data.decode("utf-8", errors="replace")
        wide = sum(1 for c in text if ord(c) > 127)
        if text.count("\ufffd") <= max(1, wide // LOSSY_UTF8_SHARE):
            return text, "utf-8", True
    best: tuple[float, str, str] | None = None
    for encoding in _LEGACY:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        share = common_share(text)
        if plausible(text, legacy=True) and (best is None or share > best[0]):
            best = (share, text, encoding)
    if best is not None:
        return best[1], best[2], False
    if allow_lossy:
        return data.decode("gb18030", errors="replace"), "gb18030", True
    raise UnreadableDocument(UNDECODABLE)


def decode_text(data: bytes) -> str:
    """The text of ``data``, or ``UnreadableDocument`` when no decoding is plausible."""
    return decode(data)[0]


def read_text(data: bytes, options: ReadOptions) -> Extract:
    """A .txt file: short unpunctuated lines become headings."""
    return Extract(decode_text(data), markdown=False)


def read_markdown(data: bytes, options: ReadOptions) -> Extract:
    return Extract(decode_text(data), markdown=True)
