"""Project pages in the markup Drupal's field template produces, written by us for tests:
field--label-above/inline/hidden/visually_hidden, field__label, field__item, and the head
links Drupal adds (canonical, shortlink, hreflang alternates)."""

from __future__ import annotations

import html


def field_html(label: str, value: str, display: str = "above", colon: str = "") -> str:
    """One field as Drupal's field.html.twig renders it for a label display."""
    name = label.lower().replace(" ", "-").replace("(", "").replace(")", "")
    classes = f"field field--name-field-{name} field--type-string"
    if display == "hidden":
        return f'<div class="{classes} field--label-hidden field__item">{value}</div>'
    label_class = "field__label visually-hidden" if display == "visually_hidden" else "field__label"
    label_html = f'<div class="{label_class}">{label}{colon}</div>'
    items = f'<div class="field__item">{value}</div>' if value else ""
    return f'<div class="{classes} field--label-{display}">{label_html}{items}</div>'


def head_links(
    *, shortlink: str | None = None, canonical: str | None = None, **alternates: str
) -> str:
    """<link> elements: shortlink, canonical and hreflang alternates (lang=href)."""
    out = []
    if canonical:
        out.append(f'<link rel="canonical" href="{canonical}">')
    if shortlink:
        out.append(f'<link rel="shortlink" href="{shortlink}">')
    out += [f'<link rel="alternate" hreflang="{k}" href="{v}">' for k, v in alternates.items()]
    return "".join(out)


def drupal_page(
    fields: list[str],
    *,
    title: str = "Labour mobility in Ghana",
    head: str = "",
    lang: str = "en",
    body: str = (
        "The project helps the government of Ghana build the skills its labour migration "
        "officers need, and this sentence is long enough to read as prose."
    ),
) -> str:
    return (
        f'<!DOCTYPE html><html lang="{lang}" dir="ltr"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} | IOM</title>{head}</head><body>"
        '<header role="banner"><nav class="menu"><a href="/">Home</a></nav></header>'
        '<main role="main"><article class="node node--type-project">'
        f'<h1 class="page-title"><span class="field field--name-title">{html.escape(title)}'
        "</span></h1>"
        + "".join(fields)
        + '<div class="field field--name-body field--label-hidden field__item"><p>'
        + body
        + "</p></div></article></main></body></html>"
    )
