"""`idf-etl parse` as a user runs it: a real subprocess, files and a local HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import PAGES
from tests.helpers.cli import clean_env, idf_etl


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "idf_etl", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_jsonl_one_object_per_input_in_order():
    names = ["c_en_devfund.html", "faq_en.html", "a_fr_text.txt"]
    proc = run("parse", "--jsonl", *(str(PAGES / n) for n in names))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert [Path(r["source"]).name for r in records] == names
    assert [r["kind"] for r in records] == ["project", "other", "project"]
    assert records[0]["budget_usd"] == "200000.00"
    assert records[1]["reason"]
    for key in (
        "lang",
        "title",
        "project_id",
        "prima_id",
        "status",
        "status_label",
        "project_type",
        "budget_usd",
        "coverage",
        "idf_region",
        "idf_region_label",
        "start_year",
        "end_year",
        "year",
        "states",
        "state_names",
        "description",
    ):
        assert key in records[0]


def test_broken_input_is_reported_and_the_others_still_parse(tmp_path):
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    proc = run(
        "parse",
        "--jsonl",
        str(empty),
        str(tmp_path / "missing.html"),
        str(PAGES / "a_en_table.html"),
    )
    assert proc.returncode == 1
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["kind"] for r in records] == ["error", "error", "project"]
    assert "empty" in records[0]["error"]
    assert "missing.html" in proc.stderr


def test_pretty_output_without_jsonl():
    proc = run("parse", str(PAGES / "error_404.html"))
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["kind"] == "other"
    assert proc.stdout.count("\n") > 3


def test_parse_url_from_local_server(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    body = (PAGES / "a_es_definition_list.html").read_bytes()
    httpserver.expect_request("/es/node/175631").respond_with_data(
        body, content_type="text/html; charset=utf-8"
    )
    url = httpserver.url_for("/es/node/175631")
    proc = run("parse", "--jsonl", url)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["source"] == url
    assert record["project_id"] == "T97-805"


def test_parse_url_that_fails_is_an_error_record(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/gone").respond_with_data("nope", status=404)
    proc = run("parse", "--jsonl", httpserver.url_for("/gone"))
    assert proc.returncode == 1
    record = json.loads(proc.stdout)
    assert record["kind"] == "error"
    assert "404" in record["error"]


def test_console_script_and_help():
    exe = Path(sys.executable).parent / "idf-etl"
    proc = subprocess.run([str(exe), "parse", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "Example:" in proc.stdout


def test_parse_url_disallowed_by_robots_is_not_requested(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /private/\n"
    )
    proc = run("parse", "--jsonl", httpserver.url_for("/private/page"))
    assert proc.returncode == 1
    assert "robots.txt" in json.loads(proc.stdout)["error"]
    assert [req.path for req, _ in httpserver.log] == ["/robots.txt"]


def test_the_command_and_its_workers_load_neither_duckdb_nor_the_fetcher():
    # What `idf-etl parse` and the fork server of `run`'s parse workers import: the
    # warehouse, HTTP client and pipeline are loaded by the commands that use them.
    # The package's public names that need them (open_warehouse, run_pipeline) load on use,
    # and `parse`'s URL reader (cli/inputs.py) imports the fetcher only for a URL.
    heavy = (
        "duckdb",
        "httpx",
        "aiohttp",
        "idf_etl.pipeline.run",
        "idf_etl.fetch.site",
        "idf_etl.warehouse.publish",
        "idf_etl.warehouse.readers",
    )
    modules = "idf_etl, idf_etl.cli.app, idf_etl.cli.inputs, idf_etl.parse.inputs"
    code = f"import sys, {modules}; print([m for m in {heavy!r} if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_re_parse_loads_no_http_client():
    # `run --from-raw` reads the raw store only: the fetcher (httpx, aiohttp) is imported
    # by the runs that fetch.
    code = (
        "import sys, idf_etl.pipeline.run; "
        "print([m for m in ('httpx', 'aiohttp', 'idf_etl.fetch.site') if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    scheme=st.sampled_from(["http", "HTTP", "Http", "hTTp"]), path=st.sampled_from(["/p", "/P/x"])
)
def test_a_url_is_a_url_whatever_the_case_of_its_scheme(httpserver, scheme, path):
    # `HTTP://host/p` was read as a file name ("No such file"): schemes are case-insensitive.
    from idf_etl.cli.inputs import read_file_or_url

    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request(path).respond_with_data(
        "<html><body>x</body></html>", content_type="text/html; charset=utf-8"
    )
    url = httpserver.url_for(path).replace("http", scheme, 1)
    body, final, charset = read_file_or_url(url)
    assert body == b"<html><body>x</body></html>"
    assert final == httpserver.url_for(path)
    assert charset == "utf-8"


def test_translation_links_through_the_cli_have_one_spelling(tmp_path):
    # Class 5 through `idf-etl parse`: hreflang links written raw or in lower-case hex
    # come out as the one URL the crawler stores.
    page = (
        (PAGES / "a_en_other_countries.html")
        .read_text()
        .replace(
            "</head>",
            '<link rel="alternate" hreflang="es" href="https://www.iom.int/es/proyecto/migración">'
            '<link rel="alternate" hreflang="fr" href="https://www.iom.int/fr/projet/migraci%c3%b3n">'
            "</head>",
        )
    )
    file = tmp_path / "page.html"
    file.write_text(page, encoding="utf-8")
    out = idf_etl("parse", "--jsonl", str(file), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["translations"] == {
        "es": "https://www.iom.int/es/proyecto/migraci%C3%B3n",
        "fr": "https://www.iom.int/fr/projet/migraci%C3%B3n",
    }


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(
        st.tuples(
            st.sampled_from([("Kenya", "KE"), ("Uganda", "UG"), ("Perú", "PE"), ("Sénégal", "SN")]),
            st.lists(
                st.sampled_from(["Nairobi", "pilot", "phase 2", "fase piloto"]),
                min_size=1,
                max_size=3,
            ),
            st.sampled_from([", ", "; ", "，", "\n"]),
            st.sampled_from([("(", ")"), ("（", "）"), ("[", "]"), ("{", "}")]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_a_country_s_remark_is_one_problem_however_it_is_punctuated(tmp_path, values):
    # "Kenya (Nairobi, Mombasa)" gave two problems; "Kenya（pilot phase）" no Kenya.
    import html

    from tests.helpers.drupal_pages import drupal_page, field_html

    paths = []
    for i, ((name, _), words, inner, (opening, closing)) in enumerate(values):
        text = f"{name} {opening}{inner.join(words)}{closing}, Rwanda"
        path = tmp_path / f"p{i}.html"
        fields = [field_html("Project ID", "GH.0001"), field_html("Project Status", "Active")]
        fields.append(field_html("Benefiting Member States", html.escape(text)))
        path.write_text(drupal_page(fields))
        paths.append(str(path))
    proc = run("parse", "--jsonl", *paths)
    assert proc.returncode == 0, proc.stderr
    for line, ((_, code), _, _, _) in zip(proc.stdout.splitlines(), values, strict=True):
        record = json.loads(line)
        assert record["states"] == [code, "RW"], record["state_names"]
        problems = [p for p in record["problems"] if p["field"] == "states"]
        assert len(problems) == 1, problems


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    retries=st.integers(0, 2),
    agent=st.sampled_from(
        ["idf-test/1.0 (data@example.org)", "another-agent 2.0 (+https://example.org)"]
    ),
)
def test_parse_url_fetches_with_the_settings_every_command_reads(
    httpserver, tmp_path, retries, agent
):
    """`parse URL` took the default settings whatever IDF_ETL_* said: a server that refused was
    tried for 25-40 s, and a user's user_agent was not sent. Now the page is asked for as
    often and as named as the settings say."""
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/busy").respond_with_data("later", status=503)
    env = clean_env(
        IDF_ETL_MAX_RETRIES=str(retries), IDF_ETL_BACKOFF_BASE="0.01", IDF_ETL_USER_AGENT=agent
    )
    proc = idf_etl("parse", "--jsonl", httpserver.url_for("/busy"), cwd=tmp_path, env=env)
    assert proc.returncode == 1, proc.stderr
    assert "503" in json.loads(proc.stdout)["error"]
    asked = [req for req, _ in httpserver.log if req.path == "/busy"]
    assert len(asked) == retries + 1
    assert {req.headers.get("User-Agent") for req in asked} == {agent}


def test_parse_url_with_a_setting_that_is_wrong_says_which_and_files_still_parse(tmp_path):
    """A setting the URL's fetch cannot use fails that input with the message every command
    gives; a file needs no setting and parses."""
    env = clean_env(IDF_ETL_MAX_RETRIES="many")
    page = str(PAGES / "c_en_devfund.html")
    proc = idf_etl("parse", "--jsonl", "http://127.0.0.1:9/project/x", page, cwd=tmp_path, env=env)
    assert proc.returncode == 1
    url, file = (json.loads(line) for line in proc.stdout.splitlines())
    assert url["kind"] == "error" and "IDF_ETL_MAX_RETRIES" in url["error"], url
    assert file["kind"] != "error", file
    assert "Traceback" not in proc.stderr
