"""Settings: file, environment and flags, validated with errors that name the setting."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.errors import ConfigError
from idf_etl.settings_sources import load_settings, parse_assignments

REPO = Path(__file__).parent.parent


def test_shipped_pipeline_file_is_valid():
    settings = load_settings(REPO / "pipelines" / "iom_idf.toml", environ={})
    assert settings.rate == 1.0
    assert "developmentfund.iom.int" in settings.allowed_hosts
    assert "http" in settings.user_agent


def test_precedence_file_then_environment_then_flags(tmp_path):
    config = tmp_path / "p.toml"
    config.write_text("[fetch]\nrate = 2.0\nconcurrency = 3\nallowed_hosts = ['a.example']\n")
    settings = load_settings(
        config,
        {"concurrency": 5},
        environ={"IDF_ETL_RATE": "0.5", "IDF_ETL_CONCURRENCY": "4", "IDF_ETL_LANGUAGES": "en, fr"},
    )
    assert (settings.rate, settings.concurrency, settings.languages) == (0.5, 5, ["en", "fr"])


def test_start_url_flag_replaces_start_points_and_brings_its_host(tmp_path):
    settings = load_settings(
        REPO / "pipelines" / "iom_idf.toml",
        {"start_urls": ["http://127.0.0.1:8123/sitemap.xml"]},
        environ={},
    )
    assert settings.sitemaps == [] and settings.listings == []
    assert settings.hosts() == ["127.0.0.1:8123"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[fetch]\nrate = -1\n", "rate"),
        ("[fetch]\nconcurrency = 'many'\n", "concurrency"),
        ("[fetch]\nuser_agent = 'anonymous'\n", "contact URL"),
        ("[fetch]\nlanguages = ['de']\n", "unknown language"),
        ("[fetch]\nspeed = 3\n", "speed"),
        ("[fetch\n", "not valid TOML"),
    ],
)
def test_invalid_settings_name_the_problem(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ={})


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_any_setting_from_the_command_line():

    values = parse_assignments(["read_timeout=60", "languages=en,fr", "max-retries=1"])
    settings = load_settings(REPO / "pipelines" / "iom_idf.toml", values, environ={})
    assert (settings.read_timeout, settings.languages, settings.max_retries) == (
        60,
        ["en", "fr"],
        1,
    )
    with pytest.raises(ConfigError, match="unknown setting 'speed'"):
        parse_assignments(["speed=3"])
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_assignments(["speed"])


def test_a_typo_of_any_setting_is_answered_with_that_setting():
    """Every setting, every one-letter slip (a letter dropped, doubled or swapped with the
    next): --set and IDF_ETL_<NAME> both name the setting meant."""
    from idf_etl.config import Settings

    for name in Settings.model_fields:
        slips = {name[:i] + name[i + 1 :] for i in range(len(name))}
        slips |= {name[:i] + name[i] + name[i:] for i in range(len(name))}
        slips |= {name[:i] + name[i + 1] + name[i] + name[i + 2 :] for i in range(len(name) - 1)}
        for slip in sorted(slips - set(Settings.model_fields) - {""}):
            with pytest.raises(ConfigError, match="did you mean") as raised:
                parse_assignments([f"{slip}=1"])
            assert f"'{name}'" in str(raised.value), (slip, str(raised.value))
            with pytest.raises(ConfigError) as raised:
                load_settings(None, environ={f"IDF_ETL_{slip.upper()}": "1"})
            assert f"IDF_ETL_{name.upper()}" in str(raised.value), (slip, str(raised.value))


def test_the_version_is_written_once_and_the_user_agent_names_it():
    # pyproject.toml is the one place: the package, `--version` and the User-Agent read it.
    import idf_etl

    installed = metadata.version("idf-etl")
    assert idf_etl.__version__ == installed
    assert f"idf-etl/{installed} (+http" in load_settings(None, environ={}).user_agent


@pytest.mark.parametrize("where", ["file", "environment", "code"])
def test_a_path_setting_starting_with_a_tilde_is_under_home_wherever_it_is_written(
    tmp_path, monkeypatch, where
):
    # No shell expands `~` in a pipeline file, a quoted variable or a notebook's string.
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "urls.txt").write_text("https://www.iom.int/project/x\n")
    values = {"data_dir": "~/idf-data", "url_list": "~/urls.txt"}
    if where == "file":
        pipeline = tmp_path / "p.toml"
        pipeline.write_text("[fetch]\n" + "".join(f"{k} = '{v}'\n" for k, v in values.items()))
        settings = load_settings(pipeline, environ={})
    elif where == "environment":
        env = {f"IDF_ETL_{k.upper()}": v for k, v in values.items()}
        settings = load_settings(None, environ=env)
    else:
        from idf_etl.config import Settings

        settings = Settings(**values)
    assert settings.data_dir == tmp_path / "idf-data"
    assert settings.url_list == tmp_path / "urls.txt"


def test_a_pipeline_file_saved_with_a_bom_is_read(tmp_path):
    pipeline = tmp_path / "p.toml"
    pipeline.write_bytes(b"\xef\xbb\xbf[fetch]\r\nrate = 0.5\r\n")  # Notepad's UTF-8
    assert load_settings(pipeline, environ={}).rate == 0.5


def test_a_data_directory_whose_path_is_not_utf8_is_refused_by_name(tmp_path):
    """DuckDB cannot open a file there (a C++ `std::bad_cast` traceback in every command);
    the setting says so instead, through the CLI as a user meets it."""
    odd = os.fsdecode(os.fsencode(str(tmp_path)) + b"/d\xff31")
    os.makedirs(odd)
    proc = subprocess.run(
        [sys.executable, "-m", "idf_etl", "status", "--data-dir", odd],
        capture_output=True, text=True, errors="replace", timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "not UTF-8" in proc.stderr and "bad_cast" not in proc.stderr


HOSTS = st.lists(
    st.from_regex(r"[a-z][a-z0-9]{0,7}(\.[a-z]{2,5}){0,2}(:[1-9][0-9]{1,3})?", fullmatch=True),
    min_size=1,
    max_size=4,
)


@settings(deadline=None)  # the first host read imports the IDNA codec: 270 ms at load 20
@given(hosts=HOSTS, toml=st.booleans())
def test_a_list_setting_is_read_whether_written_with_commas_or_as_in_the_pipeline_file(hosts, toml):
    # '["a", "b"]' was cut at its commas into '["a"' and '"b"]', each "not a host".
    raw = "[" + ", ".join(f'"{h}"' for h in hosts) + "]" if toml else ",".join(hosts)
    values = parse_assignments([f"allowed_hosts={raw}"])
    assert values == {"allowed_hosts": hosts}
    assert load_settings(overrides=values).allowed_hosts == hosts


@given(bad=st.text(min_size=1, max_size=30).filter(lambda t: t.strip() and "," not in t))
def test_a_bad_host_s_example_is_a_host_never_the_bad_value_again(bad):
    try:
        load_settings(overrides={"allowed_hosts": [bad.strip()]})
    except ConfigError as exc:
        example = str(exc).rsplit("e.g. ", 1)[1]
        assert re.fullmatch(r"'[\w.-]+(:\d+)?'", example), str(exc)


@pytest.mark.parametrize(
    "raw",
    [
        r'["^/project/\d+$"]',  # TOML's escape: cut at commas it was one character class
        r'["^/p/\d{1,3}$", "^/q$"]',
        '["a", "b"',
        "['a' 'b']",
    ],
)
@pytest.mark.parametrize("via", ["--set", "environment"])
def test_a_list_written_for_the_pipeline_file_that_toml_does_not_read_is_refused(raw, via):
    # Before: read cut at its commas, '["^/project/\\d+$"]' was one pattern, a character class
    # that matched nearly every path, and nothing was said (adversary, issue 22).
    with pytest.raises(ConfigError) as caught:
        if via == "--set":
            load_settings(overrides=parse_assignments([f"page_patterns={raw}"]), environ={})
        else:
            load_settings(environ={"IDF_ETL_PAGE_PATTERNS": raw})
    message = str(caught.value)
    assert "not a list as the pipeline file writes one" in message
    assert ("--set page_patterns" if via == "--set" else "IDF_ETL_PAGE_PATTERNS") in message


@given(
    items=st.lists(
        st.one_of(st.integers(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False)),
        min_size=1,
        max_size=3,
    )
)
def test_a_list_setting_s_items_are_text_never_numbers_turned_into_text(items):
    # Before: allowed_hosts=[1, true] read as hosts '1' and 'True' (the pipeline file refuses).
    raw = "[" + ", ".join(str(i).lower() for i in items) + "]"
    with pytest.raises(ConfigError, match="must be text in quotes"):
        parse_assignments([f"allowed_hosts={raw}"])


def test_a_regular_expression_in_single_quotes_is_read_whole():
    values = parse_assignments([r"page_patterns=['^/p/\d{1,3}$', '^/q$']"])
    assert values == {"page_patterns": [r"^/p/\d{1,3}$", "^/q$"]}


PLAIN = st.text("abc/\\d^$.+*?", min_size=1, max_size=8)
GROUP = st.builds(
    lambda o, a, b, c: f"{o}{a},{b}{c}",
    st.sampled_from("{(["),
    st.text("0123ab", max_size=3),
    st.text("0123ab", max_size=3),
    st.sampled_from("})]"),
).filter(lambda g: "{)" not in g)


@given(
    items=st.lists(
        st.builds(lambda p, g: p + g, PLAIN, st.one_of(st.just(""), GROUP)), min_size=1, max_size=4
    )
)
def test_a_comma_inside_brackets_does_not_cut_a_list_item(items):
    # '/project/\d{1,3}' was two patterns, '/project/\d{1' and '3}'.
    items = [i for i in items if i.strip() == i]
    if not items:
        return
    raw = ",".join(items)
    assert parse_assignments([f"page_patterns={raw}"]) == {"page_patterns": items}
