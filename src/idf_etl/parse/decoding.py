"""Page bytes to text: BOM, declared charset, <meta charset>, UTF-8, then cp1252, as browsers do.

Pure: blocks.read_page calls `decode` before it looks at the text.
"""

from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def charset_of(content_type: str) -> str | None:
    """The charset a Content-Type header declares (`text/html; charset=utf-8`), if any."""
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"'")
    return None


# The WHATWG MIME Sniffing Standard's "binary data bytes": C0 controls other than tab,
# line feed, form feed, carriage return and escape (ISO-2022-JP needs ESC).
BINARY_DATA_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_CONTROLS = {byte: None for byte in BINARY_DATA_BYTES}
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SNIFF_BYTES = 1445  # the standard's resource header
_WHITESPACE = b"\t\n\x0c\r "
# The standard's HTML and XML patterns: markup at the start (after white space) is a page,
# whatever bytes follow. Each is followed by a space or '>' except the comment and <?xml.
_MARKUP_STARTS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
)
# Its image, audio, video, archive and font signatures, and PDF: binary however they go on.
_SIGNATURES = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x00\x00\x01\x00", "an icon"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b\x08", "a gzip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"OggS\x00", "an Ogg file"),
    (b"ID3", "an MP3 file"),
    (b"wOFF", "a font"),
    (b"wOF2", "a font"),
)


def binary_kind(data: bytes) -> str | None:
    """What binary input this is ('a PDF document', 'NUL bytes', ...), None for text.

    The WHATWG MIME Sniffing rule browsers use for a resource of unknown type: markup
    at the start is a page; a byte-order mark is text; a known binary signature is
    binary; otherwise binary data bytes in the first 1,445 bytes make it binary. So an
    HTML page with a NUL in its <title> is a page, as browsers show it.
    """
    head = data[:_SNIFF_BYTES]
    markup = head.lstrip(_WHITESPACE)[:16].lower()
    for start in _MARKUP_STARTS:
        if markup.startswith(start) and markup[len(start) : len(start) + 1] in (b" ", b">"):
            return None
    if markup.startswith((b"<!--", b"<?xml")):
        return None
    if head.startswith((codecs.BOM_UTF8, *_UTF16_BOMS)):
        return None
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head.startswith(b"RIFF") and head[8:12] in (b"WEBP", b"AVI ", b"WAVE"):
        return "a RIFF media file"
    if head[4:8] == b"ftyp":
        return "an MP4 file"
    if any(byte in BINARY_DATA_BYTES for byte in head):
        return "NUL bytes" if 0 in head else "control bytes"
    return None


def decode(data: bytes | str, declared: str | None = None) -> tuple[str, str | None]:
    """Bytes to text, without control bytes, and a note on what had to be replaced or removed.

    Control bytes (the WHATWG binary data bytes: NUL and the like) are not text:
    they are removed, and the note says how many (a browser shows the page without them).
    """
    removed = 0
    wide = (declared or "").lower().replace("-", "").startswith(("utf16", "utf32"))
    if isinstance(data, bytes) and not data.startswith(_UTF16_BOMS) and not wide:
        # Out before the <meta charset> is looked for, so a NUL in it does not hide it.
        stripped = data.translate(None, BINARY_DATA_BYTES)
        removed, data = len(data) - len(stripped), stripped
    text, note = (data, None) if isinstance(data, str) else _decode(data, declared)
    removed += sum(text.count(chr(byte)) for byte in BINARY_DATA_BYTES)
    if not removed:
        return text, note
    said = f"{removed} control byte(s) (NUL and the like) removed: they are not text"
    return text.translate(_CONTROLS), f"{note}; {said}" if note else said


def _decode(data: bytes, declared: str | None = None) -> tuple[str, str | None]:
    """Bytes to text and a note on bytes that had to be replaced (None when there were none).

    BOM, then the declared charset, then <meta charset>, then UTF-8, then cp1252.
    A page in UTF-8 with a few bad bytes stays UTF-8 with those bytes replaced:
    re-reading it whole as cp1252 would garble every accented letter instead.
    """
    if isinstance(data, str):
        return data, None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding), None
    candidates = [declared] if declared else []
    if match := _META_CHARSET.search(data[:4096]):
        candidates.append(match.group(1).decode("ascii", "replace"))
    for encoding in [*candidates, "utf-8"]:
        try:
            name = _canonical_encoding(encoding)
        except LookupError:
            continue
        try:
            return data.decode(name), None
        except UnicodeDecodeError:
            if name == "utf-8" and (mostly := _mostly_utf8(data)) is not None:
                return mostly
    # cp1252 maps almost every byte, so it reads legacy pages; the rest are replaced.
    return data.decode("cp1252", errors="replace"), None


def _mostly_utf8(data: bytes) -> tuple[str, str] | None:
    """UTF-8 with its bad bytes replaced, when its good multi-byte characters outnumber them."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    good = sum(1 for ch in text if ord(ch) > 127) - text.count("\ufffd")
    if good < bad:
        return None  # a legacy page that calls itself UTF-8: cp1252 reads it better
    return text, (
        f"{bad} byte sequence(s) are not valid UTF-8; read as UTF-8 with each replaced by U+FFFD"
    )


def _canonical_encoding(name: str) -> str:
    # Browsers read "iso-8859-1" as windows-1252; so do we.
    name = codecs.lookup(name).name
    return "cp1252" if name in {"latin-1", "iso8859-1", "ascii"} else name
