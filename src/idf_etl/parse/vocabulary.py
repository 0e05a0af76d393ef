"""What the extractor knows about the site's words, kept as data: labels, value words, id shapes.

Every key here is *folded* (see `fold`): lower case, accents and punctuation
dropped, whitespace collapsed, so "Etat(s) membre(s)" and "État(s) Membre(s)"
meet. When the site changes its wording, this is the file to edit (when it
changes its markup, markup.py).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_PUNCT = re.compile(r"[^\w\s'-]+")
_SPACE = re.compile(r"\s+")
# Combining diacritics left by NFKD ("é" -> "e" + U+0301); the block covers Latin scripts.
_MARKS = re.compile(r"[\u0300-\u036f]")
# Ligatures are spelled out so "main-d'œuvre" meets "main-d'oeuvre".
_QUOTES = str.maketrans(
    {
        "’": "'",
        "‘": "'",
        "`": "'",
        "´": "'",
        "‐": "-",
        "‑": "-",
        "–": "-",
        "œ": "oe",
        "Œ": "OE",
        "æ": "ae",
        "Æ": "AE",
    }
)


# Every format character (Unicode category Cf: LRM/RLM, word joiner, soft hyphen, zero-width
# space, BOM, bidi embeddings...): invisible, so a person reads "CE.0036" where the page has
# "CE.0036" + U+200E. Listed, not computed (a scan of Unicode costs 0.3 s a worker start);
# tests/parse/test_identifiers.py checks it holds every Cf character Python knows.
_FORMAT = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f]"
)


@lru_cache(maxsize=16384)
def fold(text: str) -> str:
    """Fold text for matching: no accents, case-folded, punctuation to spaces."""
    if text.isascii():
        text = text.lower()
    else:
        # Invisible marks first: "Pro\u00adjects ID" and "Act\u200eive" are what they show.
        text = _FORMAT.sub("", text.translate(_QUOTES))
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text)).casefold()
    return _SPACE.sub(" ", _PUNCT.sub(" ", text)).strip()


# Field labels per language. A label may map to several fields: Spanish pages
# print "Tipo de proyecto" twice, the first holding the status, the second the
# type; the reader tries the candidates in order (see extract._assign_label).
LABELS: dict[str, tuple[str, ...]] = {}
LABEL_LANG: dict[str, str] = {}


def _labels(lang: str, field: str, *names: str) -> None:
    for name in names:
        key = fold(name)
        if field not in LABELS.get(key, ()):
            LABELS[key] = (*LABELS.get(key, ()), field)
        if lang != "any":
            LABEL_LANG[key] = lang


_labels("en", "start_year", "Start Date", "Start Year")
_labels("fr", "start_year", "Date de début")
_labels("es", "start_year", "Fecha de inicio")
_labels("en", "end_year", "End Date", "End Year")
_labels("fr", "end_year", "Date de fin")
_labels("es", "end_year", "Fecha de finalización", "Fecha de finalizacion", "Fecha de fin")
_labels("en", "status", "Project Status", "Status")
_labels("fr", "status", "Statut du projet", "Statut")
_labels("es", "status", "Tipo de proyecto", "Estado del proyecto")
_labels("en", "project_type", "Project Type")
_labels("fr", "project_type", "Type de projet")
_labels("es", "project_type", "Tipo de proyecto")
_labels("any", "budget_usd", "Budget Amount (USD)", "Budget Amount", "Budget (USD)", "Budget")
_labels("fr", "budget_usd", "Montant du budget (USD)", "Montant du budget")
_labels("es", "budget_usd", "Presupuesto (USD)", "Monto del presupuesto (USD)", "Presupuesto")
_labels("en", "coverage", "Coverage")
_labels("fr", "coverage", "Couverture", "Couverture géographique")
_labels("es", "coverage", "Cobertura geográfica", "Cobertura")
_labels("en", "year", "Year", "Allocation Year")
_labels("fr", "year", "Année")
_labels("es", "year", "Año")
_labels("any", "idf_region", "IDF Region")
_labels("fr", "idf_region", "Région du Fonds", "Région")
_labels("es", "idf_region", "Región del Fondo", "Región")
_labels("any", "prima_id", "Prima ID", "PRIMA ID")
_labels("en", "project_id", "Projects ID", "Project ID")
_labels("fr", "project_id", "Projet ID", "ID du projet")
_labels("es", "project_id", "Proyecto ID", "ID del proyecto")
# Written in English on every language's pages seen so far.
_labels("any", "other_states", "Other Countries Benefiting at Time of Allocation")
_labels(
    "en",
    "states",
    "Benefiting Member States",
    "Benefiting Member State",
    "Beneficiary Member States",
)
_labels(
    "fr",
    "states",
    "Etat(s) membre(s) beneficiaires remplissant les conditions requises",
    "États membres bénéficiaires",
)
_labels(
    "es",
    "states",
    "Estados Miembros Beneficiarios que Reúnen los Requisitos",
    "Estados Miembros Beneficiarios",
)

# Closed vocabularies: folded value -> canonical value.
STATUS: dict[str, str] = {
    fold(k): v
    for k, v in {
        "Active": "active",
        "Ongoing": "active",
        "Actif": "active",
        "En cours": "active",
        "Activo": "active",
        "En curso": "active",
        "Completed": "completed",
        "Closed": "completed",
        "Achevé": "completed",
        "Terminé": "completed",
        "Clôturé": "completed",
        "Finalizado": "completed",
        "Completado": "completed",
        "Concluido": "completed",
        "Cerrado": "completed",
    }.items()
}
COVERAGE: dict[str, str] = {
    fold(k): v
    for k, v in {
        "National": "national",
        "Nacional": "national",
        "Regional": "regional",
        "Régional": "regional",
        "Multi-Regional": "multi-regional",
        "Multiregional": "multi-regional",
        "Multi-régional": "multi-regional",
        "Multirégional": "multi-regional",
        "Multirregional": "multi-regional",
        "Multi Regional": "multi-regional",
        "Global": "global",
        "Mondial": "global",
        "Mundial": "global",
    }.items()
}
REGIONS: dict[str, str] = {
    fold(k): v
    for k, v in {
        "Africa": "Africa",
        "Afrique": "Africa",
        "África": "Africa",
        "Asia and Oceania": "Asia and Oceania",
        "Asie et Océanie": "Asia and Oceania",
        "Asia y Oceanía": "Asia and Oceania",
        "Asia y el Pacífico": "Asia and Oceania",
        "Europe": "Europe",
        "Europa": "Europe",
        "Latin America and the Caribbean": "Latin America and the Caribbean",
        "Amérique latine et Caraïbes": "Latin America and the Caribbean",
        "Amérique latine et les Caraïbes": "Latin America and the Caribbean",
        "América Latina y el Caribe": "Latin America and the Caribbean",
        "Middle East and North Africa": "Middle East and North Africa",
        "Moyen-Orient et Afrique du Nord": "Middle East and North Africa",
        "Oriente Medio y Norte de África": "Middle East and North Africa",
        "Global": "Global",
        "Monde": "Global",
        "Mundial": "Global",
        "Mundo": "Global",
    }.items()
}

# Project types (the fund's families, their labels and id letters) are project_types.py's.

_ANY_DIGIT = re.compile(r"\d")  # any script's decimal digit (Unicode Nd)


def plain_digits(text: str) -> str:
    """`text` with its format characters dropped and every decimal digit, of any script,
    written as an ASCII digit: what a person reads ("٢٠٢٢" and "２０２３" are years). The
    one rule of every number and identifier reader (ids, years, amounts)."""
    if text.isascii():
        return text
    text = _FORMAT.sub("", text)
    return _ANY_DIGIT.sub(lambda m: str(unicodedata.decimal(m[0])), text)


def plain_id(text: str) -> str:
    """An identifier as a person reads it: `plain_digits`, compatibility forms folded
    ("ＣＥ．００３５" is "CE.0035"), outer whitespace dropped. Still not ASCII: a character
    no id has (a Cyrillic "С"), for the caller to refuse."""
    text = text.strip()
    if text.isascii():
        return text
    return plain_digits(unicodedata.normalize("NFKC", _FORMAT.sub("", text))).strip()


# Id shapes: current ids "TK.0035", older "T97-805" / "QD6-805"; PRIMA "ZA99P0533".
# ASCII only: an id is read through `plain_id` first, and never keeps another script's digit.
PROJECT_ID = re.compile(r"^[A-Z]{2}\.\d{3,5}$|^[A-Z][A-Z0-9]{2}-\d{3}$", re.ASCII)
# A current id written loosely ("ce.0148", "CE 0148", "CE0148"): read as "CE.0148".
PROJECT_ID_LOOSE = re.compile(r"^([A-Za-z]{2})\s?[.\s]?\s?(\d{3,5})$", re.ASCII)
PRIMA_ID = re.compile(r"^[A-Z]{2}\d{2}P\d{4}$", re.ASCII)
YEAR = re.compile(r"(?<!\d)(19[89]\d|20\d\d|2100)(?!\d)", re.ASCII)
# A bare amount as template C prints it: "150,000", "400000.00", "USD 1.2 million".
AMOUNT_SHAPE = re.compile(
    r"^(?:US\$|USD|\$)?\s*\d[\d\s.,\u00a0\u202f]*(?:\s*(?:million|millions|millones|m))?\s*(?:USD|US\$|\$)?$",
    re.IGNORECASE,
)

# Pages that are plainly errors, whatever else they carry.
ERROR_TITLES = re.compile(
    r"page not found|page introuvable|página no encontrada|\b404\b|access denied|acc[eè]s refus",
    re.IGNORECASE,
)

# Words counted to tell the content's language (short, frequent, unambiguous).
STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "the",
            "and",
            "of",
            "to",
            "in",
            "for",
            "with",
            "is",
            "are",
            "this",
            "that",
            "will",
            "by",
            "on",
            "from",
            "be",
            "as",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "des",
            "et",
            "du",
            "une",
            "un",
            "pour",
            "dans",
            "est",
            "sont",
            "ce",
            "cette",
            "sera",
            "par",
            "au",
            "aux",
            "sur",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "la",
            "los",
            "las",
            "y",
            "del",
            "una",
            "un",
            "para",
            "en",
            "es",
            "son",
            "este",
            "esta",
            "por",
            "con",
            "al",
            "sobre",
        ]
    ),
}

# A line equal to one of these ends a description (page furniture in text renderings).
DESCRIPTION_END: frozenset[str] = frozenset(
    fold(x)
    for x in (
        "Share",
        "Share this",
        "Share this page",
        "Partager",
        "Partager cette page",
        "Compartir",
        "Related projects",
        "Projets connexes",
        "Proyectos relacionados",
        "Back to top",
        "Retour en haut",
        "Volver arriba",
        "Follow us",
        "Suivez-nous",
        "Síguenos",
        "Contact us",
        "Contactez-nous",
        "Contáctenos",
        "Download",
        "Télécharger",
        "Descargar",
    )
)
