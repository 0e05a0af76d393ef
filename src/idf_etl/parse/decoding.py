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


def decode(data: bytes | str, declared: str | None = None) -> tuple[str, str | None]:
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
