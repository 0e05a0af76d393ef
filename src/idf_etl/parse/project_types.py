"""The fund's project types: its families, the id letters that name them, and the labels
the site writes for each, kept as data; and how a page's label and id give its family.

    project_type_family("Counter Trafficking Projects", "CT.0012") -> ("Counter-Trafficking", None)
    project_type_family("Fish farming", "CT.0012") -> ("Counter-Trafficking", "... new wording ...")

When the site writes a type in words nobody listed, this is the file to edit.
"""

from __future__ import annotations

from idf_etl.parse.vocabulary import PROJECT_ID_LOOSE, fold

# Project types: the fund's families, one canonical English name each (the closed list
# of ../shared/DESIGN.md, "Project ids name the project's type"), the two id letters
# that name each family, and the labels the site writes for it per language. "seen":
# written on a real page (the shared samples and seeds, the issue-23 pages); "guessed":
# IOM's usual term or the fund's published focus area, never seen on a page yet (kept
# because they can only ever map a label to its own family). A label nobody listed
# still gets its family from the project id's letters (page.py, with a problem naming
# the new wording so it can be added here).
PROJECT_TYPE_FAMILIES: dict[str, dict[str, tuple[str, ...]]] = {
    "Community and Economic Development": {
        "letters": ("CE", "CD"),
        "en": ("Community Development",),
        "fr": ("Développement communautaire", "Développement communautaire et économique"),
        "es": ("Desarrollo económico y comunitario",),
        "guessed": ("Desarrollo comunitario", "Desarrollo comunitario y económico"),
    },
    "Transfer of Migrant Knowledge and Resources": {
        "letters": ("TK",),
        "fr": ("Transfert des connaissances et des ressources des migrants",),
        "guessed": ("Transferencia de conocimientos y recursos de los migrantes",),
    },
    "Labour Migration": {
        "letters": ("LM",),
        "fr": ("Migration de main-d'œuvre",),
        "guessed": ("Labor Migration", "Migración laboral"),
    },
    "Immigration and Borders": {
        "letters": ("IB",),
        "fr": ("Immigration et frontières",),
        "es": ("Inmigración y fronteras",),
        "guessed": (
            "Immigration and Border Management",
            "Border Management",
            "Gestion de l'immigration et des frontières",
            "Gestión de la inmigración y de fronteras",
        ),
    },
    "Counter-Trafficking": {
        "letters": ("CT",),
        "en": ("Counter Trafficking Projects",),
        "fr": ("Lutte contre la traite",),
        "guessed": (
            "Lutte contre la traite des personnes",
            "Lucha contra la trata",
            "Lucha contra la trata de personas",
        ),
    },
    "Protection and Assistance to Vulnerable Migrants": {
        "letters": ("PX",),
        "en": ("Protection and Assistance to Vulnerable Migrants",),
    },
    "Migration Health": {
        "letters": ("MA",),
        "en": (
            "Health Promotion and Assist for Migrants",
            "Health Promotion and Assistance for Migrants",
        ),
        "guessed": ("Migration and Health", "Migration et santé", "Migración y salud"),
    },
    "Migration Management Support": {
        "letters": ("MS",),
        "en": ("Migration Management Support",),
        "fr": ("Appui à la gestion des migrations",),
    },
    "Migration Policy Activities": {
        "letters": ("PO",),
        "en": ("Migration Policy Activities",),
        "fr": ("Activités de politique migratoire",),
        "es": ("Actividades sobre políticas en materia de migración",),
        "guessed": ("Actividades de política migratoria", "Policy and Legal Framework Development"),
    },
    "Migration Research and Publications": {
        "letters": ("PR",),
        "en": ("Migration Research and Publication",),
        "fr": ("Recherche et publications en matière migratoire",),
        "es": ("Investigación y publicaciones sobre migración",),
        "guessed": ("Recherche et publications sur la migration", "Research and Assessment"),
    },
    "Return and Reintegration Assistance for Migrants and Governments": {
        "letters": ("RR", "RT"),
        "en": (
            "Return and Reintegration Assistance for Migrants and Governments",
            "Return Assist to Migrants and Government",
        ),
        "fr": (
            "Aide au retour et à la réintégration à l'intention des migrants et des gouvernements",
        ),
        "guessed": (
            "Asistencia para el retorno y la reintegración de migrantes y gobiernos",
            "Return and Reintegration",
            "AVRR",
        ),
    },
    "Technical Cooperation on Migration Management and Capacity Building": {
        "letters": ("TC",),
        "en": ("TCMMCB",),
        "fr": ("TCMMCB",),
        # The site cuts the Spanish name ("... y creación de capac"): the full name is ours.
        "es": ("Cooperación técnica en gestión de la migración y creación de capacidad",),
        "guessed": (
            "Coopération technique en matière de gestion des migrations et de renforcement "
            "des capacités",
        ),
    },
    "Facilitated Migration": {
        "letters": ("FM",),
        "fr": ("Services de migration assistée",),
        "guessed": (
            "Migration facilitée",
            "Migración facilitada",
            "Servicios de migración asistida",
        ),
    },
    "Mainstreaming Migration into Development": {
        "letters": ("MD",),
        "fr": ("Intégration de la migration dans le développement",),
    },
    "Migration, Environment and Climate Change": {
        "letters": ("NC",),
        "fr": ("Environnement et changement climatique",),
        "guessed": (
            "Migration, environnement et changement climatique",
            "Migración, medio ambiente y cambio climático",
            "MECC",
        ),
    },
}
# Words a label may end with that say nothing about the family ("Counter Trafficking
# Projects"): a label is matched with and without them.
TYPE_FILLER_WORDS: frozenset[str] = frozenset(
    {"project", "projects", "projet", "projets", "proyecto", "proyectos"}
)


def type_key(text: str) -> str:
    """A project type label folded for matching: hyphens are spaces too ("Counter
    Trafficking" meets "Counter-Trafficking"), a trailing "Projects" dropped."""
    words = fold(text).replace("-", " ").split()
    while len(words) > 1 and words[-1] in TYPE_FILLER_WORDS:
        words.pop()
    return " ".join(words)


PROJECT_TYPE_NAMES: dict[str, tuple[str, ...]] = {
    canonical: tuple(
        dict.fromkeys(name for key, names in family.items() if key != "letters" for name in names)
    )
    for canonical, family in PROJECT_TYPE_FAMILIES.items()
}
PROJECT_TYPES: dict[str, str] = {
    type_key(name): canonical
    for canonical, names in PROJECT_TYPE_NAMES.items()
    for name in (canonical, *names)
}
# The two letters of a current project id ("CE.0148") -> the family they name.
TYPE_LETTERS: dict[str, str] = {
    letters: canonical
    for canonical, family in PROJECT_TYPE_FAMILIES.items()
    for letters in family["letters"]
}
# The site cuts long values ("... y creación de capac"): a folded prefix this long
# that starts exactly one known name is that name.
TYPE_PREFIX_MIN = 30


def parse_project_type(text: str) -> str | None:
    """'Migration de main-d'œuvre' / 'TCMMCB' -> the canonical English family; unknown -> None.

    A value the site cut short ('... y creación de capac') matches the one known
    name it begins, when it is long enough to tell.
    """
    key = type_key(text)
    if key in PROJECT_TYPES:
        return PROJECT_TYPES[key]
    if len(key) < TYPE_PREFIX_MIN:
        return None
    found = {canonical for name, canonical in PROJECT_TYPES.items() if name.startswith(key)}
    return found.pop() if len(found) == 1 else None


def id_letters(project_id: str | None) -> str | None:
    """The two family letters of a current project id, upper case, or None."""
    # However the page spaces or cases it ("ce.0148", "CE 0148"); older ids ("T97-805")
    # name no family.
    match = PROJECT_ID_LOOSE.match((project_id or "").strip())
    return match.group(1).upper() if match else None


def project_type_family(
    label: str | None, project_id: str | None
) -> tuple[str | None, tuple[str, str] | None]:
    """The family of a page's project type, from its label and its id's letters, and
    what is worth a problem (code, message), or None.

    The label's family wins when both are known (a disagreement is a problem naming
    both); a label nobody listed takes the letters' family (a problem names the new
    wording); with neither known, None (unknown_project_type, as page.py words it).
    """
    letters = id_letters(project_id)
    by_letters = TYPE_LETTERS.get(letters or "")
    by_label = parse_project_type(label) if label is not None else None
    if by_label is not None:
        if by_letters is not None and by_letters != by_label:
            return by_label, (
                "project_type_disagrees_with_id",
                f"project type {label!r} is {by_label!r} but the id's letters {letters!r} "
                f"name {by_letters!r}; kept the written type's family",
            )
        return by_label, None
    if by_letters is None:
        return None, None
    if label is None:
        return by_letters, (
            "project_type_from_id",
            f"no project type is written; its family {by_letters!r} is read from the "
            f"id's letters {letters!r}",
        )
    return by_letters, (
        "project_type_from_id",
        f"project type {label!r} is a wording not listed: its family {by_letters!r} is read "
        f"from the id's letters {letters!r} (add the wording to project_types.py)",
    )
