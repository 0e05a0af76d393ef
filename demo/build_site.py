"""Write the embedded sample site (demo/site/) that `make demo` and the end-to-end tests serve.

    python demo/build_site.py      # rewrites demo/site/ from the data below

Facts (ids, countries, amounts, years) are those the fund publishes; titles and
descriptions are our own short wording. The output is committed, so the site
is plain files anyone can read.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

SITE = Path(__file__).parent / "site"

LABELS = {
    "en": [
        "Start Date",
        "End Date",
        "Project Status",
        "Project Type",
        "Budget Amount (USD)",
        "Coverage",
        "Year",
        "IDF Region",
        "Prima ID",
        "Projects ID",
        "Benefiting Member States",
    ],
    "fr": [
        "Date de début",
        "Date de fin",
        "Statut du projet",
        "Type de projet",
        "Budget Amount (USD)",
        "Couverture",
        "Année",
        "IDF Region",
        "Prima ID",
        "Projet ID",
        "Etat(s) membre(s) beneficiaires remplissant les conditions requises",
    ],
    "es": [
        "Fecha de inicio",
        "Fecha de finalización",
        "Tipo de proyecto",
        "Tipo de proyecto",
        "Budget Amount (USD)",
        "Cobertura geográfica",
        "Año",
        "IDF Region",
        "Prima ID",
        "Proyecto ID",
        "Estados Miembros Beneficiarios que Reúnen los Requisitos",
    ],
}
STATUS = {"en": ("Active", "Completed"), "fr": ("Actif", "Achevé"), "es": ("Activo", "Finalizado")}
REGION = {
    "Africa": {"en": "Africa", "fr": "Afrique", "es": "África"},
    "Europe": {"en": "Europe", "fr": "Europe", "es": "Europa"},
    "Global": {"en": "Global", "fr": "Monde", "es": "Global"},
    "Asia and Oceania": {"en": "Asia and Oceania", "fr": "Asie et Océanie", "es": "Asia y Oceanía"},
    "Latin America and the Caribbean": {
        "en": "Latin America and the Caribbean",
        "fr": "Amérique latine et Caraïbes",
        "es": "América Latina y el Caribe",
    },
}
MENU = {
    "en": ["Who we are", "Our Work", "Where we work", "Data and Research", "2030 Agenda"],
    "fr": [
        "Qui sommes nous",
        "Notre travail",
        "Où travaillons-nous",
        "Données et recherche",
        "2030 AGENDA",
    ],
    "es": [
        "Quiénes somos",
        "Nuestro trabajo",
        "Dónde operamos",
        "Datos e investigación",
        "2030 AGENDA",
    ],
}

# id, prima, status(0 active/1 completed), budget, coverage, region, start, end, year, states per lang,
# then the pages: (path, lang, template, title, description)
PROJECTS = [
    (
        "CD.0085",
        "GE10P0527",
        0,
        "400000.00",
        "Regional",
        "Europe",
        2023,
        2024,
        2022,
        {"en": "Armenia Georgia", "fr": "Arménie Géorgie", "es": "Armenia Georgia"},
        {
            "en": "Community Development",
            "fr": "Développement communautaire",
            "es": "Desarrollo comunitario",
        },
        [
            (
                "/project/migration-socio-economic-development-armenia-georgia",
                "en",
                "A",
                "Migration for Socio-Economic Development in Armenia and Georgia",
                "Returnees in the South Caucasus get help to start again at home; the pilot from Georgia is extended to Armenia.",
            ),
            (
                "/fr/node/190001",
                "fr",
                "A",
                "Migration et développement socio-économique en Arménie et en Géorgie",
                "Les migrants de retour du Caucase du Sud reçoivent un appui pour reprendre pied chez eux.",
            ),
            (
                "/es/node/190002",
                "es",
                "A",
                "Migración y desarrollo socioeconómico en Armenia y Georgia",
                "Los migrantes que regresan al Cáucaso Meridional reciben apoyo para volver a empezar en su país.",
            ),
        ],
    ),
    (
        "TK.0035",
        "ZA99P0533",
        0,
        "400000.00",
        "Regional",
        "Africa",
        2023,
        2024,
        2022,
        {
            "en": "Lesotho Malawi Mauritius",
            "fr": "Lesotho Malawi Maurice",
            "es": "Lesotho Malawi Mauricio",
        },
        {
            "en": "Transfer of migrant knowledge and resources",
            "fr": "Transfert des connaissances et des ressources des migrants",
            "es": "Transferencia de conocimientos y recursos de los migrantes",
        },
        [
            (
                "/project/regional-integration-diaspora-capital",
                "en",
                "A",
                "Regional integration through diaspora capital: a joint IOM and UNDP initiative",
                "Three countries map their diasporas and design ways for them to invest in national development.",
            ),
            (
                "/fr/node/187001",
                "fr",
                "A",
                "Intégration régionale et capital de la diaspora : une initiative conjointe de l’OIM et du PNUD",
                "Trois pays cartographient leur diaspora et conçoivent des moyens de l’associer au développement.",
            ),
        ],
    ),
    (
        "CE.0148",
        None,
        1,
        "160000.00",
        "Regional",
        "Europe",
        None,
        2024,
        None,
        {
            "en": "Albania Bosnia and Herzegovina Montenegro Serbia",
            "fr": "Albanie Bosnie-Herzégovine Monténégro Serbie",
        },
        {
            "en": "Community and Economic Development",
            "fr": "Développement communautaire et économique",
        },
        [
            (
                "/project/migration-development-western-balkans",
                "en",
                "A",
                "Migration for Development in the Western Balkans (MIDWEB)",
                "Consular staff are trained and skilled nationals abroad return for short assignments.",
            ),
            (
                "/fr/node/160148",
                "fr",
                "B",
                "Migration pour le développement dans les Balkans occidentaux (MIDWEB)",
                "Des agents consulaires sont formés et des nationaux qualifiés reviennent pour de courtes missions.",
            ),
        ],
    ),
    (
        "CE.0276",
        "CD10P0001",
        1,
        "200000.00",
        "National",
        "Africa",
        None,
        2024,
        None,
        {"en": "Democratic Republic of the Congo", "fr": "République démocratique du Congo"},
        {
            "en": "Community and Economic Development",
            "fr": "Développement communautaire et économique",
        },
        [
            (
                "/project/diaspora-resources-drc",
                "en",
                "A",
                "Managing diaspora resources in the Democratic Republic of the Congo",
                "Officials learn to engage the Congolese diaspora; a skills database and a website follow.",
            ),
            (
                "/fr/node/160276",
                "fr",
                "A",
                "Gestion des ressources de la diaspora en République démocratique du Congo",
                "Des fonctionnaires apprennent à mobiliser la diaspora congolaise ; une base de données suit.",
            ),
        ],
    ),
    (
        "TC4-805",
        None,
        1,
        "40000.00",
        "National",
        "Europe",
        None,
        2024,
        None,
        {"en": "Georgia", "fr": "Géorgie"},
        {"en": "TCMMCB", "fr": "TCMMCB"},
        [
            (
                "/fr/node/154805",
                "fr",
                "A",
                "Orientation professionnelle et microcrédit en Samtskhé-Djavakhétie (Géorgie)",
                "Formation, placement et petits crédits pour l’emploi local dans une région frontalière.",
            ),
            (
                "/project/vocational-guidance-samtskhe-javakheti",
                "en",
                "B",
                "Vocational guidance and microcredit in Samtskhe-Javakheti (Georgia)",
                "Training, job placement and small loans for local employment in a border region.",
            ),
        ],
    ),
    (
        "TK.0042",
        "CH10P1170",
        0,
        "400000.00",
        "Global",
        "Global",
        2023,
        2025,
        2023,
        {
            "en": "El Salvador Fiji Georgia Mauritius Peru",
            "es": "El Salvador Fiyi Georgia Mauricio Perú",
        },
        {
            "en": "Transfer of migrant knowledge and resources",
            "es": "Transferencia de conocimientos y recursos de los migrantes",
        },
        [
            (
                "/project/global-alliances-diaspora-engagement",
                "en",
                "A",
                "Global alliances for diaspora engagement",
                "Governments form a policy alliance to work with their diasporas across the world.",
            ),
            (
                "/es/node/190042",
                "es",
                "A",
                "Alianzas mundiales para la participación de la diáspora",
                "Los gobiernos forman una alianza para trabajar con sus diásporas en todo el mundo.",
            ),
        ],
    ),
    (
        "PO.0123",
        "BW10P0006",
        1,
        "100000.00",
        "Regional",
        "Africa",
        2019,
        2021,
        2018,
        {
            "en": "Angola Botswana Comoros Democratic Republic of the Congo Eswatini Lesotho Madagascar "
            "Malawi Mauritius Mozambique Namibia South Africa Zambia Zimbabwe",
            "fr": "Angola Botswana Comores République démocratique du Congo Eswatini Lesotho Madagascar "
            "Malawi Maurice Mozambique Namibie Afrique du Sud Zambie Zimbabwe",
        },
        {"en": "Migration Policy Activities", "fr": "Activités de politique migratoire"},
        [
            (
                "/project/regional-migration-policy-framework-southern-africa",
                "en",
                "B",
                "A regional migration policy framework for Southern Africa",
                "A non-binding framework the region's governments can draw on for their own policies.",
            ),
            (
                "/fr/node/170123",
                "fr",
                "A",
                "Un cadre régional de politique migratoire pour l’Afrique australe",
                "Un cadre non contraignant dont les gouvernements peuvent s’inspirer pour leurs politiques.",
            ),
        ],
    ),
    (
        "CE.0388",
        "MG10P0004",
        1,
        "75000.00",
        "National",
        "Africa",
        2017,
        2024,
        2017,
        {"en": "Comoros", "es": "Comoras"},
        {"en": "Community and Economic Development", "es": "Desarrollo económico y comunitario"},
        [
            (
                "/es/node/174000",
                "es",
                "B",
                "Capacidad institucional y diáspora de las Comoras",
                "Las instituciones aprenden a trabajar con la diáspora comorana que vive sobre todo en Francia.",
            ),
            (
                "/project/comoros-diaspora-institutional-capacity",
                "en",
                "A",
                "Institutional capacity and the diaspora of the Comoros",
                "Institutions learn to work with the Comorian diaspora, most of whom live in France.",
            ),
        ],
    ),
    (
        "T97-805",
        None,
        1,
        "50000.00",
        "Regional",
        "Latin America and the Caribbean",
        2001,
        2024,
        2001,
        {"es": "República Dominicana (la) Haití"},
        {"es": "Cooperación técnica en gestión de la migración y creación de capac"},
        [
            (
                "/es/node/175000",
                "es",
                "B",
                "Gestión de la migración en la Isla de Hispaniola",
                "Ambos países coordinan su cooperación técnica en materia migratoria.",
            )
        ],
    ),
    (
        "PR.0244",
        "MZ10P0504",
        1,
        "200000.00",
        "National",
        "Africa",
        2020,
        2022,
        2019,
        {"es": "Mozambique", "en": "Mozambique"},
        {
            "es": "Investigación y publicaciones sobre migración",
            "en": "Migration Research and Publications",
        },
        [
            (
                "/es/node/186000",
                "es",
                "A",
                "Perfil migratorio de Mozambique",
                "Funcionarios aprenden a reunir y analizar datos migratorios para un perfil nacional.",
            ),
            (
                "/project/mozambique-migration-profile",
                "en",
                "A",
                "Migration profile of Mozambique",
                "Officials learn to gather and analyse migration data for a national profile.",
            ),
        ],
    ),
    (
        "TK.0039",
        "TZ10P0555",
        0,
        "400000.00",
        "Multi-Regional",
        "Africa",
        2023,
        2025,
        2023,
        {
            "fr": "Burundi République démocratique du Congo Kenya Rwanda Ouganda République-Unie de Tanzanie Soudan du Sud",
            "en": "Burundi Democratic Republic of the Congo Kenya Rwanda Uganda United Republic of Tanzania South Sudan",
        },
        {
            "fr": "Transfert des connaissances et des ressources des migrants",
            "en": "Transfer of migrant knowledge and resources",
        },
        [
            (
                "/fr/node/187686",
                "fr",
                "A",
                "Programme de la Communauté d’Afrique de l’Est pour la mobilisation de la diaspora",
                "Les États de la communauté harmonisent leur façon de travailler avec leurs diasporas.",
            ),
            (
                "/project/east-african-community-diaspora-programme",
                "en",
                "A",
                "East African Community diaspora engagement programme",
                "The community's states align how they work with their diasporas.",
            ),
        ],
    ),
    (
        "L20-805",
        None,
        1,
        "100000.00",
        "Regional",
        "Africa",
        None,
        2024,
        None,
        {"fr": "Kenya Ouganda République-Unie de Tanzanie"},
        {"fr": "Migration de main-d’œuvre"},
        [
            (
                "/fr/node/175846",
                "fr",
                "B",
                "Renforcement des capacités des gouvernements d’Afrique de l’Est en migration de main-d’œuvre",
                "Trois gouvernements protègent mieux leurs travailleurs à l’étranger.",
            )
        ],
    ),
    (
        "CE.0333",
        "MD10P0001",
        1,
        "200,000",
        "National",
        "Europe",
        None,
        None,
        None,
        {"en": "Republic of Moldova | Romania"},
        {"en": "Community and Economic Development"},
        [
            (
                "/project/moldova-diaspora-homeland-partnerships",
                "en",
                "C",
                "Developing Moldova through diaspora-homeland partnerships",
                "Diaspora experts advise national institutions, and second-generation Moldovans keep their links.",
            )
        ],
    ),
    (
        "CD.0002",
        "MU10P0005",
        0,
        "200,000",
        "National",
        "Africa",
        None,
        None,
        None,
        {"en": "Mauritius"},
        {"en": "Community and Economic Development"},
        [
            (
                "/es/node/133021",
                "en",
                "C",
                "Building the capacity of the Mauritian Government to work with its diaspora",
                "The government wants to know its diaspora better and to work with it on development.",
            )
        ],
    ),
]

# News pages under /fr/node/ and /es/node/, as on the site: their paths look like a
# project's, so the crawler fetches them and the parser sets them aside as "other".
OTHER_PAGES = [
    (
        "/fr/node/199001",
        "fr",
        "news",
        "Nouveaux fonds pour le retour temporaire de migrants qualifiés",
        [
            "Un programme reçoit 2,5 millions d'euros pour des missions en Afghanistan, en Bosnie-Herzégovine et en Géorgie.",
            "Budget : USD 2 500 000 sur trois ans, selon ce communiqué écrit pour la démo.",
        ],
    ),
    (
        "/iom-development-fund-faqs",
        "en",
        "faq",
        "IOM Development Fund FAQs",
        [
            "What does the Fund do? It gives seed money to eligible Member States.",
            "How much has it allocated? Over USD 160 million, to projects in 125 countries.",
        ],
    ),
    (
        "/how-apply",
        "en",
        "guide",
        "How to Apply",
        [
            "Eligible Member States submit proposals through IOM offices; this guidance text is our own."
        ],
    ),
    (
        "/es/node/199002",
        "es",
        "news",
        "Acuerdo de paz en el sur de Filipinas",
        [
            "La OIM describe su apoyo a la recuperación de Mindanao; texto propio de la demostración."
        ],
    ),
]
BROKEN_PAGE = "/project/broken-upload"  # served empty: an unreadable page


def page_a(lang: str, title: str, values: list[str | None], description: str) -> str:
    menu = "".join(
        f"<li class='menu-item'><a href='#'>{html.escape(m)}</a></li>" for m in MENU[lang]
    )
    fields = "".join(
        f"<div class='field field--label-inline'><div class='field__label'>{html.escape(label)}</div>"
        + (f"<div class='field__item'>{html.escape(value)}</div>" if value else "")
        + "</div>"
        for label, value in zip(LABELS[lang], values, strict=True)
        if value is not None or label
    )
    return (
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>{html.escape(title)} | IOM</title>"
        f"</head><body><header><nav class='main-menu'><ul class='menu'>{menu}</ul></nav></header>"
        f"<main><article><h1>{html.escape(title)}</h1>{fields}"
        f"<div class='field--name-body'><p>{html.escape(description)}</p></div></article></main>"
        "<footer><p>Contact</p></footer></body></html>\n"
    )


def page_b(lang: str, title: str, values: list[str | None], description: str) -> str:
    lines = "".join(
        f"<li>{html.escape(label)}</li>"
        + (f"<li class='value'>{html.escape(value)}</li>" if value else "")
        for label, value in zip(LABELS[lang], values, strict=True)
    )
    return (
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
        f"<div class='content'><h2>{html.escape(title)}</h2><ul>{lines}</ul>"
        f"<p>{html.escape(description)}</p></div></body></html>\n"
    )


def page_c(lang: str, title: str, values: list[str], description: str) -> str:
    side = "".join(
        f"<li>{x}</li>" for x in ["About", "Support", "How to Apply", "News", "Contact Us"]
    )
    cells = "".join(f"<div>{html.escape(v)}</div>" for v in values)
    return (
        f"<!DOCTYPE html><html lang='{'es' if lang == 'es' else 'en'}'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} | IOM Development Fund</title></head><body>"
        f"<div class='sidebar-first'><ul class='menu'>{side}</ul></div><div id='main'>"
        f"<h1>{html.escape(title)}</h1><div class='node'><h2>{html.escape(title)}</h2>{cells}"
        f"<div><p>{html.escape(description)}</p></div></div></div></body></html>\n"
    )


def other_page(lang: str, kind: str, title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><nav><ul><li>{MENU[lang][0]}</li></ul></nav><main><h1>{html.escape(title)}</h1>"
        f"{body}</main></body></html>\n"
    )


def build() -> dict[str, str]:
    if SITE.exists():
        shutil.rmtree(SITE)
    lastmod: dict[str, str] = {}
    for (
        pid,
        prima,
        status,
        budget,
        coverage,
        region,
        start,
        end,
        year,
        states,
        types,
        pages,
    ) in PROJECTS:
        for path, lang, template, title, description in pages:
            label_lang = lang if template != "C" else "en"
            if template == "C":
                # template C: no labels, states one a line (one <div> each)
                values = [
                    REGION[region]["en"],
                    pid,
                    *([prima] if prima else []),
                    budget,
                    *states["en"].split(" | "),
                    types["en"],
                    coverage,
                    STATUS["en"][status],
                ]
                text = page_c(
                    path.split("/")[1] if path.startswith("/es/") else "en",
                    title,
                    values,
                    description,
                )
            else:
                values = [
                    None if start is None else str(start),
                    None if end is None else str(end),
                    STATUS[label_lang][status],
                    types[label_lang],
                    budget,
                    coverage,
                    None if year is None else str(year),
                    REGION[region][label_lang],
                    prima,
                    pid,
                    states[label_lang],
                ]
                text = (page_a if template == "A" else page_b)(
                    label_lang, title, values, description
                )
            write(path, text)
            lastmod[path] = "2024-01-15"
    for path, lang, kind, title, paragraphs in OTHER_PAGES:
        write(path, other_page(lang, kind, title, paragraphs))
        lastmod[path] = "2024-01-15"
    write(BROKEN_PAGE, "")
    lastmod[BROKEN_PAGE] = "2024-01-15"
    listing = "".join(f"<li><a href='{p}'>{p}</a></li>" for p in list(lastmod)[:10])
    write(
        "/projects", f"<html><body><main><h1>Projects</h1><ul>{listing}</ul></main></body></html>\n"
    )
    (SITE / "lastmod.json").write_text(json.dumps(lastmod, indent=1) + "\n")
    return lastmod


def write(path: str, text: str) -> None:
    target = SITE / (path.strip("/") + ".html")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    pages = build()
    print(f"wrote {len(pages)} pages to {SITE}")
