"""The English name IOM and the UN write for each country code, for the warehouse.

`countries.py` reads names as the site writes them (any of three languages) into
codes; this goes the other way, code -> one English name, for the warehouse's
country join table (`load/projects.py`).
"""

from __future__ import annotations

from functools import cache

# English names the way IOM and the UN write them, where ISO's short name differs
# (ISO puts the qualifier after a comma: "Congo, The Democratic Republic of the").
UN_NAMES: dict[str, str] = {
    "BO": "Bolivia (Plurinational State of)",
    "CD": "Democratic Republic of the Congo",
    "FM": "Micronesia (Federated States of)",
    "GB": "United Kingdom of Great Britain and Northern Ireland",
    "IR": "Iran (Islamic Republic of)",
    "KP": "Democratic People's Republic of Korea",
    "KR": "Republic of Korea",
    "MD": "Republic of Moldova",
    "PS": "State of Palestine",
    "TZ": "United Republic of Tanzania",
    "US": "United States of America",
    "VA": "Holy See",
    "VE": "Venezuela (Bolivarian Republic of)",
    "VG": "British Virgin Islands",
    "VI": "United States Virgin Islands",
    "XK": "Kosovo",
}


@cache
def english_name(code: str) -> str:
    """The English name IOM and the UN use for a code ("Bosnia and Herzegovina",
    "Democratic Republic of the Congo"), for the warehouse's join table: ISO 3166's
    name (pycountry) unless `UN_NAMES` says otherwise, never CLDR's short forms."""
    import pycountry

    if code in UN_NAMES:
        return UN_NAMES[code]
    country = pycountry.countries.get(alpha_2=code)
    return str(country.name) if country is not None else code
