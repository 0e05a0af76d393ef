"""Generated project pages of realistic size (about 60 KB, full site menu), for benchmarks.

The facts (ids, names, amounts) are drawn from what the site publishes; the
prose is ours. Deterministic: page i is always the same page.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

# The labels and status words as the site writes them: the demo site's, one copy.
sys.path.insert(0, str(Path(__file__).parent.parent / "demo"))
from build_site import LABELS, STATUS

REGIONS = {
    "en": ["Africa", "Asia and Oceania", "Europe", "Latin America and the Caribbean", "Global"],
    "fr": ["Afrique", "Asie et Océanie", "Europe", "Amérique latine et Caraïbes", "Monde"],
    "es": ["África", "Asia y Oceanía", "Europa", "América Latina y el Caribe", "Mundial"],
}
STATES = {
    "en": [
        "Armenia",
        "Georgia",
        "Ghana",
        "Republic of Moldova",
        "Democratic Republic of the Congo",
        "South Africa",
        "El Salvador",
        "Mauritius",
        "Kosovo",
        "Viet Nam",
    ],
    "fr": [
        "Arménie",
        "Géorgie",
        "Ghana",
        "République de Moldova",
        "République démocratique du Congo",
        "Afrique du Sud",
        "El Salvador",
        "Maurice",
        "Kosovo",
        "Viet Nam",
    ],
    "es": [
        "Armenia",
        "Georgia",
        "Ghana",
        "República de Moldova",
        "República Democrática del Congo",
        "Sudáfrica",
        "El Salvador",
        "Mauricio",
        "Kosovo",
        "Viet Nam",
    ],
}
TYPES = {
    "en": "Community and Economic Development",
    "fr": "Développement communautaire et économique",
    "es": "Desarrollo económico y comunitario",
}
PROSE = {
    "en": "The project supports the government in working with its diaspora, and this sentence is filler written for the benchmark. ",
    "fr": "Le projet aide le gouvernement à travailler avec sa diaspora, et cette phrase est un remplissage écrit pour le banc d'essai. ",
    "es": "El proyecto ayuda al gobierno a trabajar con su diáspora, y esta frase es un relleno escrito para la prueba. ",
}


def site_menu(rng: random.Random, items: int = 420) -> str:
    """A mega-menu like iom.int's: nested lists of links, most of the page's bytes."""
    parts = ['<header role="banner"><nav class="main-menu"><ul class="menu">']
    for i in range(items // 12):
        parts.append(
            f'<li class="menu-item menu-item--expanded"><a href="/section-{i}">Section {i} of the organisation</a><ul class="menu">'
        )
        for j in range(12):
            parts.append(
                f'<li class="menu-item"><a href="/section-{i}/page-{j}" title="Page {j}">Page {j} about migration topic {rng.randint(1, 999)}</a></li>'
            )
        parts.append("</ul></li>")
    parts.append("</ul></nav></header>")
    return "".join(parts)


# Store shapes (bench_load.py): "one" page a project (three languages of one id at most);
# "many" pages a project (13, as the store had: every language and field of a
# project disagrees, so the merge reports issues by the thousand); "problems": every page
# with several problems (an unknown label, unmatched countries, a budget and a year that
# cannot be read, an id of an odd shape); "p1": one page a project whatever the store's
# size (an id of its own each, where "one"'s four-digit ids start to share at 10,000), each
# with a description of about 2 KB (issue 22's adversary: one project a page is the most
# projects, and so the most keys the loader tracks, a store can give).
SHAPES = ("one", "many", "problems", "p1")
PAGES_A_PROJECT = 13


def project_facts(i: int, shape: str = "one") -> dict[str, object]:
    rng = random.Random(i)
    lang = ("en", "fr", "es")[i % 3]
    start = rng.randint(2001, 2024)
    facts: dict[str, object] = {
        "lang": lang,
        "start": start,
        "end": start + rng.randint(1, 3),
        "status": STATUS[lang][rng.randint(0, 1)],
        "type": TYPES[lang],
        "budget": f"{rng.randint(20, 400) * 1000}.00",
        "coverage": rng.choice(["National", "Regional", "Global"]),
        "year": start - 1,
        "region": rng.choice(REGIONS[lang]),
        "prima": f"ZA{rng.randint(10, 99)}P{rng.randint(0, 9999):04d}",
        "project_id": f"{rng.choice(['CE', 'TK', 'CD', 'PO'])}.{i % 10000:04d}",
        "states": " ".join(rng.sample(STATES[lang], rng.randint(1, 4))),
        "title": f"Project {i}: strengthening migration governance with the diaspora",
        "extra": "",
    }
    if shape == "many":
        facts["project_id"] = f"CE.{i // PAGES_A_PROJECT:04d}"
    elif shape == "p1":
        facts["project_id"] = f"CE.{i:05d}"
    elif shape == "problems":
        facts["budget"] = f"about {rng.randint(20, 400)} thousand, or {rng.randint(1, 9)} more"
        facts["end"] = f"{facts['start']}/{rng.randint(10, 99)}"
        facts["prima"] = f"prima-{i}-{rng.randint(0, 999)}"
        facts["states"] += f", Atlantis {i % 97}, Middle Earth {i % 89}"
        facts["extra"] = (
            f'<div class="field field--label-inline"><div class="field__label">Donor {i % 53}'
            f'</div><div class="field__item">Fund {i % 31}</div></div>'
        )
    return facts


def project_page(i: int, target_kb: int = 60, shape: str = "one") -> str:
    """Template A page number i, about `target_kb` KB with its menu, of a store `shape`."""
    facts = project_facts(i, shape)
    lang = str(facts["lang"])
    rng = random.Random(i)
    values = [
        facts["start"],
        facts["end"],
        facts["status"],
        facts["type"],
        facts["budget"],
        facts["coverage"],
        facts["year"],
        facts["region"],
        facts["prima"],
        facts["project_id"],
        facts["states"],
    ]
    fields = "".join(
        f'<div class="field field--label-inline"><div class="field__label">{label}</div>'
        f'<div class="field__item">{value}</div></div>'
        for label, value in zip(LABELS[lang], values, strict=True)
    ) + str(facts["extra"])
    if shape == "p1":  # about 2 KB, whatever the language
        body = "".join(f"<p>Page {i}. {PROSE[lang] * 4}</p>" for _ in range(4))
    else:
        body = "".join(f"<p>{PROSE[lang] * rng.randint(3, 6)}</p>" for _ in range(6))
    page = (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{facts["title"]} | IOM</title>'
        f'<meta name="viewport" content="width=device-width"><link rel="stylesheet" href="/css/site.css"></head><body>'
        f'{site_menu(rng)}<main role="main"><article><h1>{facts["title"]}</h1>{fields}'
        f'<div class="field--name-body">{body}</div></article></main>'
        '<footer class="site-footer"><ul><li>Contact</li><li>Careers</li><li>Privacy</li></ul></footer>'
        "</body></html>"
    )
    # Pad with more menu to reach the target size the live pages have.
    while len(page.encode()) < target_kb * 1000:
        page = page.replace(
            "</nav>",
            site_menu(rng, 24)
            .removeprefix('<header role="banner"><nav class="main-menu">')
            .removesuffix("</nav></header>")
            + "</nav>",
            1,
        )
    return page


def grow_store(
    data: Path, indices: Iterable[int], shape: str = "one", page: Callable[[int], str] | None = None
) -> None:
    """Pages `indices` of a store `shape` (or `page(i)`) into DATA/raw. Setup, not measured:
    the bodies skip fsync."""
    from unittest import mock

    from idf_etl.rawstore import RawStore

    with RawStore(data / "raw") as store, mock.patch("os.fsync"):
        for i in indices:
            url = f"https://www.iom.int/project/p{i:05d}"
            body = page(i) if page is not None else project_page(i, shape=shape)
            store.record_body(
                url,
                status=200,
                body=body.encode(),
                headers={"content-type": "text/html; charset=utf-8"},
                final_url=url,
                canonical_url=None,
                sitemap_lastmod=None,
            )
