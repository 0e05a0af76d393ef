"""Country names as the site writes them -> ISO 3166-1 alpha-2 codes.

Names come from two real sources joined: CLDR through Babel (English, French,
Spanish; it has XK for Kosovo) and pycountry's ISO names, official names and
common names ("Republic of Moldova", "Viet Nam"), plus `ALIASES` for what
neither has. Matching is exact after `fold` (case, accents, punctuation), never
fuzzy: a name that matches nothing is reported, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from idf_etl.parse.vocabulary import fold
from idf_etl.records import LANGS

# Names seen on the site (or in UN usage) that neither CLDR nor ISO spells this way.
ALIASES: dict[str, str] = {
    # Democratic Republic of the Congo: CLDR says "Congo - Kinshasa" / "Congo-Kinshasa".
    "Democratic Republic of the Congo": "CD",
    "Democratic Republic of Congo": "CD",
    "DR Congo": "CD",
    "République démocratique du Congo": "CD",
    "RD Congo": "CD",
    "RDC": "CD",
    "República Democrática del Congo": "CD",
    "Republic of the Congo": "CG",
    "République du Congo": "CG",
    "República del Congo": "CG",
    "Congo-Brazzaville": "CG",
    "Republic of Congo": "CG",
    # UN-style long forms in French and Spanish.
    "République-Unie de Tanzanie": "TZ",
    "República Unida de Tanzanía": "TZ",
    "República Unida de Tanzania": "TZ",
    "République de Moldova": "MD",
    "República de Moldova": "MD",
    "République de Corée": "KR",
    "República de Corea": "KR",
    "Republic of Korea": "KR",
    "République démocratique populaire lao": "LA",
    "República Democrática Popular Lao": "LA",
    "Lao People's Democratic Republic": "LA",
    "États fédérés de Micronésie": "FM",
    "Estados Federados de Micronesia": "FM",
    "Micronesia (Federated States of)": "FM",
    "Bolivia (Plurinational State of)": "BO",
    "Bolivie (État plurinational de)": "BO",
    "Bolivia (Estado Plurinacional de)": "BO",
    "Venezuela (Bolivarian Republic of)": "VE",
    "Venezuela (République bolivarienne du)": "VE",
    "Venezuela (República Bolivariana de)": "VE",
    "Iran (Islamic Republic of)": "IR",
    "Iran (République islamique d')": "IR",
    "Irán (República Islámica del)": "IR",
    "Türkiye": "TR",
    "Turkey": "TR",
    "Swaziland": "SZ",
    "Cape Verde": "CV",
    "Ivory Coast": "CI",
    "Côte d'Ivoire": "CI",
    "Kosovo": "XK",
    "Kosovo/UNSCR 1244": "XK",
    "Macedonia": "MK",
    "The former Yugoslav Republic of Macedonia": "MK",
    "Ex-République yougoslave de Macédoine": "MK",
    "Burma": "MM",
    "East Timor": "TL",
    "Timor oriental": "TL",
    "State of Palestine": "PS",
    "État de Palestine": "PS",
    "Estado de Palestina": "PS",
    "Gambia (Republic of The)": "GM",
    "The Gambia": "GM",
    "Saint-Vincent-et-les-Grenadines": "VC",
}

# "(la)", "(le)", "(the)" and the like: UN list articles that carry no meaning here.
_ARTICLE = re.compile(r"\s*\((?:la|le|les|l'|el|los|las|the)\)\s*", re.IGNORECASE)
# Names too generic to be a country on their own when met inside a longer line.
_NOT_NAMES = {"", "union", "republic", "islands", "saint", "the"}
_MAX_WORDS = 8
# Words that join two names in a list ("Kenya, Ouganda et Tanzanie").
_CONNECTORS = frozenset({"and", "et", "y", "e", "&"})
_SKIP = -2
# Joins "(la)" to the word before it while a line is cut into words (not whitespace).
_GLUE = "\u2060"
_GLUED_ARTICLE = re.compile(r"\s+(\((?:la|le|les|l'|el|los|las|the)\))", re.IGNORECASE)


def _key(name: str) -> str:
    return fold(_ARTICLE.sub(" ", name))


@cache
def country_index() -> dict[str, str]:
    """Every known spelling (folded) -> alpha-2 code."""
    import pycountry
    from babel import Locale

    index: dict[str, str] = {}

    def add(name: str, code: str) -> None:
        key = _key(name)
        if key and key not in _NOT_NAMES:
            index.setdefault(key, code)
            # "Guinea Bissau" for "Guinea-Bissau": a hyphen is a space too.
            index.setdefault(key.replace("-", " "), code)

    for country in pycountry.countries:
        code = country.alpha_2
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if not name:
                continue
            add(name, code)
            # "Moldova, Republic of" -> "Republic of Moldova"
            if ", " in name:
                head, _, tail = name.partition(", ")
                add(f"{tail} {head}", code)
                if tail.lower().startswith("the "):
                    add(f"{tail[4:]} {head}", code)
    for lang in LANGS:
        for code, name in Locale(lang).territories.items():
            # CLDR also names regions ("001", "419") and groupings (EU, UN, EZ, QO, ZZ).
            if len(code) == 2 and code.isalpha() and code not in {"EU", "EZ", "UN", "QO", "ZZ"}:
                add(name, code)
    # Curated aliases win over the sources (they fix what the sources get wrong).
    for name, code in ALIASES.items():
        index[_key(name)] = code
        index[_key(name).replace("-", " ")] = code
    return index


def _glued(key: str) -> str:
    """A folded name with no separators at all: what it looks like run into another."""
    return re.sub(r"[\s'-]+", "", key)


@cache
def glued_index() -> dict[str, str | None]:
    """Every known spelling with its separators removed -> code (None when two countries
    would spell the same, so such a spelling never decides a split)."""
    index: dict[str, str | None] = {}
    for key, code in country_index().items():
        glued = _glued(key)
        if len(glued) >= 4:  # "Chad", "Iran", "Peru"; shorter ones are abbreviations
            index[glued] = code if index.get(glued, code) == code else None
    return index


_MAX_RUN = 200  # letters of run-together names read, a bound on the work
_MAX_NAME = 60  # letters of one name, ditto


def split_run_together(text: str) -> list[tuple[str, str]] | None:
    """Country names written with no separator ("ChileUruguay", "Costa RicaPanamá") as
    (code, name as written) pairs, when exactly one way of cutting the text into known
    names exists; None otherwise (never a guess: the caller reports the text)."""
    # The text's letters folded and glued, each remembering where it was written.
    letters: list[str] = []
    origin: list[int] = []
    for k, char in enumerate(text):
        for folded in _glued(fold(char)):
            letters.append(folded)
            origin.append(k)
    glued, n = "".join(letters), len(letters)
    if not 0 < n <= _MAX_RUN:
        return None
    index = glued_index()
    # ways[i]: the ways to cut glued[i:] into known names, counted up to 2 (ambiguous).
    ways = [0] * (n + 1)
    ways[n] = 1
    cut = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        for j in range(i + 4, min(n, i + _MAX_NAME) + 1):
            if ways[j] and index.get(glued[i:j]) is not None:
                ways[i] = min(2, ways[i] + ways[j])
                cut[i] = j
    if ways[0] != 1:
        return None
    out: list[tuple[str, str]] = []
    i = 0
    while i < n:
        j = cut[i]
        end = origin[j] if j < n else len(text)
        code = index[glued[i:j]]
        assert code is not None
        out.append((code, text[origin[i] : end].strip(" ,;.-")))
        i = j
    return out


def starts_with_country(text: str) -> bool:
    """Whether a text opens with a known country name ("Ghana, Kenya, etc.", "Ghana and
    Kenya (pilot phase)."): a list, however it ends, rather than prose."""
    first = re.split(r"[\n;,|•]+|\s{2,}", text, maxsplit=1)[0]
    keys = [_key(w) for w in first.split()[:_MAX_WORDS]]
    index = country_index()
    return any(" ".join(k for k in keys[:j] if k) in index for j in range(1, len(keys) + 1))


def country_code(name: str) -> str | None:
    """The alpha-2 code for one country name, or None when it matches nothing."""
    return country_index().get(_key(name))


@dataclass(frozen=True)
class StatesResult:
    """Country names read from a value: codes and names in page order, and leftovers."""

    codes: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    unmatched: tuple[str, ...] = ()


def split_countries(text: str) -> StatesResult:
    """Split a line of country names (newline-, comma- or space-separated) into codes.

    Space-separated multi-word names ("Albanie Bosnie-Herzégovine Monténégro
    Serbie") are cut where the fewest names cover the most words; words that
    belong to no known name are kept together and reported as unmatched.
    """
    return _split_countries(text)


# Brackets and list punctuation in their full-width, small and CJK forms (a Chinese or
# Japanese keyboard's): read as the ASCII ones, "Kenya（pilot phase）" as "Kenya (pilot phase)".
# ASCII curly braces too: a reader reads "Kenya {Nairobi, Mombasa}" as Kenya and a remark,
# as its full-width form already was (it was cut in two, '{Nairobi' and 'Mombasa}').
_FULL_WIDTH = str.maketrans("（）﹙﹚｛｝{}［］〔〕【】〈〉⟨⟩，；｜、", "()()()()[][][]()(),;|,")
# Where a list is cut: a separator outside brackets ("Kenya (Nairobi, Mombasa)" is one item).
_SEPARATOR = re.compile(r"[\n;,|•]+|\s{2,}")
# A bracketed group with no bracket inside it, round or square.
_GROUP = re.compile(r"\([^()\[\]]*\)|\[[^()\[\]]*\]")


def list_items(text: str) -> list[str]:
    """The text cut at its separators (newline, comma, semicolon, bar, bullet, two spaces)
    outside brackets: a bracket's comma is a remark's ("Kenya (Nairobi, Mombasa)" was two
    problems, '(Nairobi' and 'Mombasa)'). A bracket never closed is no bracket."""
    shape = text
    while (inner := _GROUP.sub(lambda group: "x" * len(group[0]), shape)) != shape:
        shape = inner  # nested groups, innermost first; the same length as the text
    items, start = [], 0
    for cut in _SEPARATOR.finditer(shape):
        items.append(text[start : cut.start()])
        start = cut.end()
    return [*items, text[start:]]


@lru_cache(maxsize=4096)
def _split_countries(text: str) -> StatesResult:
    found: dict[str, str] = {}  # code -> name as written, first spelling wins
    unmatched: list[str] = []
    for part in list_items(text.translate(_FULL_WIDTH)):
        part = part.strip(" .-–\t")
        if not part:
            continue
        if (code := country_code(part)) is not None:
            found.setdefault(code, part)
            continue
        _split_words(part, found, unmatched)
    return StatesResult(tuple(found), tuple(found.values()), tuple(unmatched))


def _split_words(line: str, found: dict[str, str], unmatched: list[str]) -> None:
    # A bracketed group is one word ("(la)", "(Plurinational State of)"), so that a name
    # may take it in whole or leave it whole.
    words = [w.replace(_GLUE, " ") for w in _bracket_words(line).split()]
    keys = [_key(w) for w in words]
    n = len(words)
    index = country_index()
    # best[i] = (unmatched words, names) for words[i:]; step[i] = where the name at i ends.
    best: list[tuple[int, int]] = [(0, 0)] * (n + 1)
    step: list[int] = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        choice = (best[i + 1][0] + 1, best[i + 1][1] + 1)
        cut = -1  # -1: words[i] is unmatched
        if keys[i] in _CONNECTORS and 0 < i < n - 1:
            # "Kenya et Ouganda": the word joins two names (inside one, the name wins).
            choice, cut = best[i + 1], _SKIP
        # A bracket ends a name or stands alone, never starts one ("(China)").
        for j in range(i + 1, min(n, i + _MAX_WORDS) + 1) if words[i][0] not in "([" else ():
            if " ".join(k for k in keys[i:j] if k) in index:
                cand = (best[j][0], best[j][1] + 1)
                if cand < choice:
                    choice, cut = cand, j
        best[i], step[i] = choice, cut
    # (code, words) for a name, (None, word) for a word no name took, in order.
    read: list[tuple[str | None, str]] = []
    i = 0
    while i < n:
        if step[i] == _SKIP:
            i += 1
        elif step[i] == -1:
            if _qualifies(words[i]) and read and read[-1][0] is not None:
                # "Samoa (American)", "Congo (Democratic Republic of the)": the bracket
                # says the name before it is another one: both are reported, never read
                # as the country the name alone would be.
                read[-1] = (None, f"{read[-1][1]} {words[i]}")
            else:
                read.append((None, words[i]))
            i += 1
        else:
            read.append(
                (index[" ".join(k for k in keys[i : step[i]] if k)], " ".join(words[i : step[i]]))
            )
            i = step[i]
    pending: list[str] = []
    for code, text in [*read, ("", "")]:
        if code is None:
            pending.append(text)
            continue
        if pending:
            _unsplit(" ".join(pending), found, unmatched)
            pending = []
        if code:
            found.setdefault(code, text)


def _bracket_words(line: str) -> str:
    """The line with each bracketed group made one word (its spaces glued), an article
    joined to the word before it ("Congo (la)" is Congo's)."""
    # "Kenya(pilot)", "Myanmar (Birmania)(pilot)", and after any other mark but a bracket:
    # "Islas Vírgenes de EE. UU.(pilot)" lost the name when only a letter counted.
    line = re.sub(r"(?<=[^\s(\[])([(\[])", r" \1", line)
    line = _GLUED_ARTICLE.sub(_GLUE + r"\1", line)
    return _GROUP.sub(lambda group: re.sub(r"\s", _GLUE, group[0]), line)


def _qualifies(word: str) -> bool:
    """A bracketed word that names or qualifies a country ("(American)", "(South)",
    "(including Somalia)"), not a remark of other words ("(pilot phase)")."""
    known = _name_words()
    return word.startswith(("(", "[")) and any(w in known for w in fold(word).split())


def is_remark(text: str) -> bool:
    """Whether an unmatched part of a list is one bracketed remark ("(pilot phase)")."""
    return bool(re.fullmatch(r"\([^()]*\)|\[[^\[\]]*\]", text.strip()))


def _unsplit(words: str, found: dict[str, str], unmatched: list[str]) -> None:
    """Words no name matched: names run together ("ChileUruguay"), or unmatched."""
    # Brackets are no names run together: "Hong Kong (China)" is one name, never HK and CN.
    names = None if re.search(r"[()\[\]]", words) else split_run_together(words)
    if names is None:
        unmatched.append(words)
        return
    for code, name in names:
        found.setdefault(code, name)


@cache
def _name_words() -> frozenset[str]:
    """Every word of every known name (folded), and the words that join names."""
    articles = {"la", "le", "les", "l", "el", "los", "las", "the"}  # "(la)": see _ARTICLE
    return frozenset(w for key in country_index() for w in key.split()) | _CONNECTORS | articles


def mostly_name_words(text: str, share: float = 0.5) -> bool:
    """Whether at least `share` of the text's words belong to some country name: a cheap
    first look before splitting (a description of 4,000 words is no list, and splitting
    it costs), given up as soon as too many words are no name's."""
    words = fold(text).split()
    known, allowed = _name_words(), (1 - share) * len(words)
    unknown = 0
    for word in words:
        unknown += word not in known
        if unknown > allowed:
            return False
    return bool(words)


def is_country_line(text: str) -> bool:
    """True when every word of a line belongs to a known country name (any length: a list
    of 45 names is 500 characters, and reading it costs time linear in its words)."""
    if not text:
        return False
    if len(text) > 400 and not mostly_name_words(text):  # short ones: "ChileUruguay" too
        return False
    parsed = split_countries(text)
    return bool(parsed.codes) and not parsed.unmatched
