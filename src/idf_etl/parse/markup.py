"""What the site's HTML looks like, kept as data: the selectors and class hints blocks.py reads.

Where the main content lives, which elements are navigation and page furniture,
and which class names hint at a field label or value. When the site changes its
markup, this is the file to edit (when it changes its wording, vocabulary.py).
"""

from __future__ import annotations

# Class and id fragments that mark navigation and page furniture in HTML.
BOILERPLATE_SELECTORS = ", ".join(
    [
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "iframe",
        "form",
        "nav",
        "aside",
        "footer",
        "body > header",
        "[role=navigation]",
        "[role=banner]",
        "[role=contentinfo]",
        "[role=search]",
        "[aria-hidden=true]",
        "[hidden]",
        *(
            f"[{attr}*={word}]"
            for attr in ("class", "id")
            for word in (
                "menu",
                "navbar",
                "navigation",
                "breadcrumb",
                "footer",
                "share",
                "social",
                "sidebar",
                "cookie",
                "skip-link",
                "visually-hidden",
                "sr-only",
                "contact-block",
                "block-contact",
                "language-switcher",
                "pager",
            )
        ),
    ]
)
# Classes that hide an element from sight but not from screen readers: a field label
# wearing one is still read (Drupal's "visually hidden" label display).
HIDDEN_CLASS_HINTS = ("visually-hidden", "sr-only", "element-invisible", "screen-reader")
# Where the page's own content lives, most specific first.
MAIN_SELECTORS = ("main", "[role=main]", "article", "#content", ".content", "#main", "body")
# Endings of class names hinting that an element is a field label or a field value
# ("field__label", "views-label"; "field__item", "field-content"). Endings, not
# substrings: Drupal's wrapper class "field--label-inline" is neither.
LABEL_CLASS_HINTS = ("label", "field-name", "term", "key")
VALUE_CLASS_HINTS = ("item", "items", "value", "field-content", "definition")
