"""Every setting that names a host, a URL, a path, a size or a duration reads it with one
reader, and a bad value is refused where it was written: one `idf-etl:` line naming the
setting and what it allows, before anything is asked of a site (adversary, issue 22:
allowed_hosts took '.', '-' and port 99999999; start_urls a bad port or an empty host;
archive_paths control characters; revalidate_days=1e300 and a non-ASCII user_agent stopped
the run with a traceback)."""

from __future__ import annotations

import ipaddress
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idf_etl.config import Settings
from idf_etl.errors import ConfigError
from idf_etl.settings_sources import load_settings
from idf_etl.urls import host_allowed, netloc, read_host
from tests.helpers.cli import clean_env, idf_etl

LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,20}[a-zA-Z0-9])?", fullmatch=True)
NAME = (
    st.lists(LABEL, min_size=1, max_size=4)
    .map(".".join)
    .filter(
        lambda n: not all(x.isdigit() for x in n.split("."))  # all digits: an IPv4 address
    )
)
IDN = st.sampled_from(["bücher", "münchen", "españa", "日本", "égypte"]).map(
    lambda n: f"{n}.example"
)
IPV4 = st.ip_addresses(v=4).map(str)
IPV6 = st.ip_addresses(v=6).map(lambda a: f"[{a}]")
PORT = st.integers(1, 65535)
HOST = st.builds(
    lambda name, port, dot: name + ("." if dot and not name.startswith("[") else "")
    + (f":{port}" if port else ""),
    st.one_of(NAME, IDN, IPV4, IPV6),
    st.one_of(st.none(), PORT),
    st.booleans(),
)  # fmt: skip


@given(host=HOST)
def test_a_host_is_read_in_the_form_the_fetch_s_urls_have(host):
    read = read_host(host)
    assert read == netloc(f"http://{host}/x") or read.endswith(":80")
    assert host_allowed(f"http://{host}/project/x", [read])


@given(text=st.text(max_size=30))
def test_whatever_a_host_reader_takes_is_a_host_a_url_can_name(text):
    try:
        read = read_host(text)
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    # What it takes is a host an http URL reaches, in one spelling, with no odd characters.
    assert set(read) <= set(string.ascii_lowercase + string.digits + "-.:[]")
    assert read_host(read) == read
    assert host_allowed(f"http://{read}/x", [read])


BAD_NAME = st.one_of(
    st.text(".-_", min_size=1, max_size=5),  # '.', '-', '_': no letter or digit
    st.builds("{}-.example".format, LABEL),  # a label ending in a hyphen
    st.builds("-{}".format, LABEL),  # starting with one
    st.builds("{}..{}".format, LABEL, LABEL),  # an empty label
    st.builds("{}.{}".format, st.text("a", min_size=64, max_size=70), LABEL),  # a label > 63
    st.builds("{}_{}".format, LABEL, LABEL),
    st.just("999.1.1.1"),
    st.just("1.2.3"),
    st.just("[::g]"),
    st.just("::1"),
)
BAD_PORT = st.one_of(st.just(0), st.integers(65536, 10**12)).map(str) | st.sampled_from(
    ["", "-1", "８０", "80a", "٣"]
)
CONTROL = st.characters(categories=["Cc", "Zl", "Zp"])
BAD_HOST = st.one_of(
    BAD_NAME,
    st.builds("{}:{}".format, NAME, BAD_PORT),
    st.builds(lambda n, c, i: n[:i] + c + n[i:], NAME, CONTROL, st.integers(0, 4)),
)
ARGV_BAD_HOST = BAD_HOST.filter(lambda h: "\x00" not in h)


@given(host=BAD_HOST)
def test_a_bad_host_is_refused_by_every_setting_that_names_one(host):
    for name, value in [
        ("allowed_hosts", [host]),
        ("start_urls", [f"http://{host}/project/x"]),
        ("sitemaps", [f"https://{host}/sitemap.xml"]),
        ("listings", [f"http://{host}/projects"]),
        ("archive_cdx", f"http://{host}/cdx"),
        ("archive_replay", f"https://{host}/web"),
    ]:
        with pytest.raises(ConfigError) as caught:
            load_settings(overrides={name: value}, environ={})
        message = str(caught.value)
        assert message.startswith(f"invalid setting {name} = ") and "\n" not in message
        assert ("not a host" if name == "allowed_hosts" else "not an http(s) URL") in message or (
            "no usable host" in message
        )


# What RFC 3986 lets a URL's userinfo hold (no '/', '?', '#', '@' or space).
USERINFO = st.text(string.ascii_letters + string.digits + "-._~!$&'()*+,;=%:", max_size=12)
# '~' and '!' are in no host: the password is told from the rest of the message.
SECRET = st.text(string.ascii_letters + string.digits, max_size=10).map(lambda s: f"~{s}!")


@given(user=USERINFO, secret=SECRET, host=HOST)
def test_a_url_naming_a_user_or_password_is_refused_and_the_password_never_shown(
    user, secret, host
):
    # The fetch never sent them, yet datapackage.json published the URL whole (adversary).
    for name, value in [
        ("start_urls", [f"http://{user}:{secret}@{host}/sitemap.xml"]),
        ("sitemaps", [f"https://{user}:{secret}@{host}/sitemap.xml"]),
        ("listings", [f"http://{user}:{secret}@{host}/projects"]),
        ("archive_cdx", f"http://{user}:{secret}@{host}/cdx"),
        ("archive_replay", f"https://{secret}@{host}/web"),
    ]:
        with pytest.raises(ConfigError) as caught:
            load_settings(overrides={name: value}, environ={})
        message = str(caught.value)
        assert message.startswith(f"invalid setting {name} = ") and "\n" not in message
        assert "names a user or password" in message and secret not in message


@given(
    name=st.sampled_from(["archive_paths", "user_agent", "data_dir", "url_list", "start_urls"]),
    control=CONTROL | st.sampled_from(["\x00", "\t", "\r\n", "\x7f", "\u2028"]),
    at=st.integers(0, 8),
)
def test_a_control_character_is_refused_in_every_text_setting(name, control, at):
    plain = {
        "archive_paths": "/project/x",
        "user_agent": "idf-etl (+http://a.example)",
        "data_dir": "data/x",
        "url_list": "lists/urls.txt",
        "start_urls": "http://a.example/sitemap.xml",
    }[name]
    value = plain[:at] + control + plain[at:]
    with pytest.raises(ConfigError) as caught:
        load_settings(
            overrides={name: [value] if name in ("archive_paths", "start_urls") else value},
            environ={},
        )
    message = str(caught.value)
    assert message.startswith(f"invalid setting {name} = ") and message.isprintable()


DURATIONS = ["connect_timeout", "read_timeout", "request_timeout", "run_timeout", "backoff_max"]


@given(
    name=st.sampled_from([*DURATIONS, "backoff_base", "revalidate_days"]),
    value=st.floats(min_value=4e7, allow_infinity=False),
)
def test_a_duration_past_a_year_is_refused(name, value):
    with pytest.raises(ConfigError, match=f"invalid setting {name} = .*less than or equal"):
        load_settings(overrides={name: str(value)}, environ={})


@given(value=st.floats(min_value=0, max_value=3e-8, exclude_min=True), archive=st.booleans())
def test_a_rate_of_less_than_a_request_a_year_is_refused(value, archive):
    with pytest.raises(ConfigError, match="less than one request a year"):
        load_settings(overrides={"archive_rate" if archive else "rate": value}, environ={})


@given(
    name=st.sampled_from(["warehouse_memory", "max_warehouse_memory"]),
    amount=st.integers(1_000_001, 10**9),
    unit=st.sampled_from(["GB", "GiB"]),
)
def test_more_memory_than_duckdb_takes_is_refused(name, amount, unit):
    with pytest.raises(ConfigError, match=f"invalid setting {name} = .*at most 1000000GB"):
        load_settings(overrides={name: f"{amount}{unit}"}, environ={})


def test_a_host_is_kept_as_the_fetch_compares_it():
    settings_ = load_settings(
        overrides={"allowed_hosts": ["Bücher.Example.", "[::1]:8000", "a.example:443"]},
        environ={},
    )
    assert settings_.allowed_hosts == ["xn--bcher-kva.example", "[::1]:8000", "a.example:443"]
    # A Unicode host matched no URL (they are compared in ASCII); a default port none either.
    assert host_allowed("http://bücher.example/project/x", settings_.allowed_hosts)
    assert host_allowed("https://a.example/project/x", settings_.allowed_hosts)
    assert host_allowed("http://[::1]:8000/project/x", settings_.allowed_hosts)
    assert ipaddress.ip_address("::1")  # what the bracket holds


# A command line cannot carry a NUL (exec refuses it): the pipeline file's "\u0000" can.
ARGV_CONTROL = CONTROL.filter(lambda c: c != "\x00")
BAD_SETTINGS = st.one_of(
    st.builds(lambda h: ("allowed_hosts", h), ARGV_BAD_HOST.filter(lambda h: "," not in h)),
    st.builds(lambda h: ("start_urls", f"http://{h}/project/x"), ARGV_BAD_HOST),
    st.builds(lambda h: ("archive_cdx", f"http://{h}/cdx"), ARGV_BAD_HOST),
    # As TOML writes a control character in a list (it refuses one as it is).
    st.builds(lambda c: ("archive_paths", f'["/pro\\u{ord(c):04x}ject"]'), CONTROL),
    # No NUL: no program's argument can hold one.
    st.builds(lambda c: ("data_dir", f"da{c}ta"), ARGV_CONTROL),
    st.builds(lambda c: ("user_agent", f"x (+http://a.example){c}"), ARGV_CONTROL | st.just("é")),
    st.builds(lambda n: (n, "1e300"), st.sampled_from([*DURATIONS, "revalidate_days"])),
    st.builds(lambda n: (n, "1e-300"), st.sampled_from(["rate", "archive_rate"])),
    st.just(("warehouse_memory", "99999999999999GB")),
    st.just(("max_pages", "9" * 5000)),
    st.builds(lambda u: ("start_urls", f"http://{u}:pw@127.0.0.1:1/sitemap.xml"), USERINFO),
)


@settings(max_examples=12, deadline=None)
@given(setting=BAD_SETTINGS)
def test_a_bad_setting_is_one_line_from_the_cli_before_any_request(tmp_path_factory, setting):
    name, value = setting
    cwd = tmp_path_factory.mktemp("cli")
    command = "backfill" if name.startswith("archive") else "run"
    # --data-dir would win over a data_dir given with --set (and the bad one go unread).
    where = [] if name == "data_dir" else ["--data-dir", "data"]
    proc = idf_etl(command, *where, "--set", f"{name}={value}", cwd=cwd, env=clean_env())
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and f"idf-etl: invalid setting {name} = " in lines[0], proc.stderr
    assert len(lines[0]) < 1000
    assert not any(cwd.iterdir())


NOT_YES_NO = sorted(
    name for name, field in Settings.model_fields.items() if field.annotation is not bool
)


@given(name=st.sampled_from(NOT_YES_NO), truth=st.booleans())
def test_a_yes_no_is_refused_where_a_setting_wants_another_value(tmp_path_factory, name, truth):
    """TOML's true/false are Python's 1/0: `keep_published = false` in a pipeline file kept
    no earlier release and `max_retries = true` one retry, and nothing was said."""
    file = tmp_path_factory.mktemp("toml") / "pipeline.toml"
    file.write_text(f"{name} = {str(truth).lower()}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(file, environ={})
    message = str(caught.value)
    assert message.startswith(f"invalid setting {name} = ") and "\n" not in message
    assert "is a yes/no" in message or "is not a path" in message


TOML_VALUE = st.sampled_from(
    ["true", "false", "0", "-1", "5", "1.5", "-0.0", "1e400", "nan", "[1]", "[]", "['a', 2]",
     '"text"', '""', "1979-05-27", "07:32:00", "1979-05-27T07:32:00Z", "{ a = 1 }"]
)  # fmt: skip


@given(name=st.sampled_from(sorted(Settings.model_fields)), value=TOML_VALUE)
def test_a_pipeline_file_value_of_any_toml_kind_is_taken_or_refused_in_one_line(
    tmp_path_factory, name, value
):
    """`data_dir = 5` (or false, 1.5, [1]) stopped every command with a TypeError traceback."""
    file = tmp_path_factory.mktemp("toml") / "pipeline.toml"
    file.write_text(f"{name} = {value}\n")
    try:
        load_settings(file, environ={})
    except ConfigError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize("name", ["report", "sitemaps_from_robots", "follow_translations"])
def test_a_yes_no_setting_still_takes_one(tmp_path, name):
    file = tmp_path / "pipeline.toml"
    file.write_text(f"{name} = false\n")
    assert getattr(load_settings(file, environ={}), name) is False
