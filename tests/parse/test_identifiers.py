"""Identifiers and numbers are read as a person reads them (issue 22, adversary cases 17-18,
20, 25): another script's digits and invisible format characters (Unicode Cf: LRM, RLM,
word joiner, soft hyphen) give the same id, year or amount as the plain text, or an empty
field with a problem naming it; never a different id (a project split in two), never a
lost value reported as having no label, never a whole page lost to one value."""

from __future__ import annotations

import sys
import unicodedata
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.parse.head import node_in_url
from idf_etl.parse.normalise import parse_budget, parse_year
from idf_etl.parse.page import parse_page
from idf_etl.parse.vocabulary import _FORMAT, plain_digits, plain_id
from tests.helpers.drupal_pages import drupal_page, field_html

URL = "https://developmentfund.iom.int/project/labour-mobility-ghana"
# The zero of each of these scripts' digits (Unicode Nd: ten in a row).
ZEROS = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xE50, 0xED0, 0xF20,
    0x1040, 0x17E0, 0x1810, 0xFF10, 0x104A0, 0x1D7CE, 0x1D7F6,
]  # fmt: skip
CF = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]


def test_every_format_character_is_one_the_readers_drop():
    assert CF and all(_FORMAT.fullmatch(c) for c in CF)


@st.composite
def written(draw, plain: str) -> str:
    """`plain` as a page may write it: any digit in another script, format characters
    anywhere (outer whitespace too)."""
    out = []
    for ch in plain:
        if ch.isdigit() and draw(st.booleans()):
            ch = chr(draw(st.sampled_from(ZEROS)) + int(ch))
        out.append(ch)
    for _ in range(draw(st.integers(0, 3))):
        out.insert(draw(st.integers(0, len(out))), draw(st.sampled_from(CF)))
    return draw(st.sampled_from(["", " ", "\u00a0"])) + "".join(out)


current_ids = st.from_regex(r"\A[A-Z]{2}\.[0-9]{3,5}\Z")
old_ids = st.from_regex(r"\A[A-Z][A-Z0-9]{2}-[0-9]{3}\Z")
prima_ids = st.from_regex(r"\A[A-Z]{2}[0-9]{2}P[0-9]{4}\Z")


def page(**fields: str) -> str:
    base = {"Project Status": "Active", "IDF Region": "Africa"}
    return drupal_page([field_html(k, v) for k, v in {**base, **fields}.items()])


@settings(max_examples=200, deadline=None)
@given(st.data(), current_ids | old_ids, prima_ids)
def test_an_id_reads_as_its_plain_self_or_empty_with_a_problem(data, pid, prima):
    w_pid, w_prima = data.draw(written(pid)), data.draw(written(prima))
    record = parse_page(page(**{"Project ID": w_pid, "Prima ID": w_prima}), url=URL)
    for field, plain, as_written in (("project_id", pid, w_pid), ("prima_id", prima, w_prima)):
        value = getattr(record, field)
        assert value in (plain, None), (field, as_written, value)
        fields = {p.field for p in record.problems}
        # The page's text loses U+200B and U+FEFF before any reader sees it (blocks._clean).
        seen = as_written.replace("\u200b", "").replace("\ufeff", "").strip()
        if value is None or seen != plain:
            assert field in fields, (as_written, record.problems)
    assert "value_without_label" not in {p.code for p in record.problems}


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(1980, 2100), st.integers(0, 10**14), st.integers(0, 99))
def test_years_and_amounts_read_in_any_script(data, year, dollars, cents):
    amount = f"{dollars:,}.{cents:02d}"
    w_year, w_amount = data.draw(written(str(year))), data.draw(written(amount))
    record = parse_page(page(**{"Year": w_year, "Budget Amount (USD)": w_amount}), url=URL)
    assert record.year == year, (w_year, record.problems)
    assert record.budget_usd == Decimal(f"{dollars}.{cents:02d}"), (w_amount, record.problems)


@settings(max_examples=100, deadline=None)
@given(st.one_of(
    # "-1980" reads as the year 1980 (a dash before a date), so not drawn here
    st.integers(-(10**6), 10**6).filter(lambda n: not 1980 <= abs(n) <= 2100).map(str),
    st.sampled_from(["0", "99999", "1979", "2101", "20233"]),
))  # fmt: skip
def test_a_labelled_year_that_is_no_year_is_that_fields_problem(text):
    # Adversary case 25: "0" and "99999" were reported as values without a label.
    record = parse_page(page(**{"Start Date": text, "Budget Amount (USD)": "150,000"}), url=URL)
    assert record.start_year is None and record.budget_usd == Decimal("150000.00")
    codes = {(p.code, p.field) for p in record.problems}
    assert ("unparsable_year", "start_year") in codes, record.problems
    assert "value_without_label" not in {code for code, _ in codes}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789,. ٠٣\u200e$Mm-e+"), max_size=60))
def test_no_amount_or_year_raises(text):
    # Whatever a number conversion can raise is the value's failure, never the page's.
    parse_budget(text)
    parse_year(text)


def test_an_amount_past_the_warehouse_is_empty_and_the_rest_of_the_page_read():
    # Adversary case 20: a 1.3 MB "1,000,...,000" raised decimal.Overflow; the whole page
    # was unreadable.
    huge = "1" + ",000" * 333_400
    assert parse_budget(huge) is None
    assert parse_budget("9" * 17) is None and parse_budget("9" * 16) == Decimal("9" * 16)
    record = parse_page(page(**{"Project ID": "GH.0001", "Budget Amount (USD)": huge}), url=URL)
    assert record.kind == "project" and record.project_id == "GH.0001"
    assert record.title == "Labour mobility in Ghana" and record.budget_usd is None
    (problem,) = [p for p in record.problems if p.field == "budget_usd"]
    # Past TEXT_LIMIT: not read at all, its length said and its start quoted.
    assert problem.code == "value_too_long" and len(problem.message) <= 300
    assert "1,333,601 characters" in problem.message


def test_a_letter_no_id_has_leaves_the_id_empty_with_a_problem():
    # A Cyrillic "С" looks like a Latin C: never kept as a second spelling of CE.0035.
    record = parse_page(page(**{"Project ID": "СЕ.0035"}), url=URL)
    assert record.project_id is None
    assert ("odd_id", "project_id") in {(p.code, p.field) for p in record.problems}


def test_the_one_rule():
    assert plain_digits("٢٠٢٢") == "2022" == plain_digits("２０\u200e２２")
    assert plain_id(" ＣＥ．００３５\u2060") == "CE.0035"
    assert parse_budget("１５０，０００") == Decimal("150000.00") == parse_budget("۱۵۰٬۰۰۰")
    assert parse_budget("0.001") is None and parse_budget("0,500") is None
    assert node_in_url("https://x.org/fr/node/٣٠٠") is None  # Drupal writes ASCII digits
    assert node_in_url("https://x.org/fr/node/300") == 300
