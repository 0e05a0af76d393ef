"""Bad configuration: exit 2 before any request, naming the setting and where its value came from.

Every case also names a good start point on a live 127.0.0.1 server, so a run
that went ahead would be seen there: none may reach it.
"""

from __future__ import annotations

import pytest

from tests.helpers.cli import clean_env, idf_etl


def write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


CASES = {
    # id: (extra args, extra environment, config file text, what the message must say)
    "ftp start url": (
        ["--start-url", "ftp://127.0.0.1/sitemap.xml"],
        {},
        None,
        ["start_urls", "from --start-url", "not an http(s) URL"],
    ),
    "unknown section": (
        [],
        {},
        "[fetch]\nrate = 0\n[fecth]\nrate = 1\n",
        ["unknown section [fecth]; did you mean [fetch]?", "pipeline.toml"],
    ),
    "unknown key": (
        [],
        {},
        "[fetch]\nspeed = 3\n",
        ["unknown setting 'speed'", "pipeline.toml [fetch]"],
    ),
    "unknown variable": (
        [],
        {"IDF_ETL_SPEED": "3"},
        None,
        ["unknown environment variable IDF_ETL_SPEED"],
    ),
    "typo of a variable": (
        [],
        {"IDF_ETL_RAET": "3"},
        None,
        ["unknown environment variable IDF_ETL_RAET", "did you mean IDF_ETL_RATE or"],
    ),
    "typo of a key": (
        [],
        {},
        "[fetch]\nconcurency = 3\n",
        ["unknown setting 'concurency'; did you mean 'concurrency'?", "pipeline.toml [fetch]"],
    ),
    "typo of --set": (
        ["--set", "rat=1"],
        {},
        None,
        ["--set 'rat=1': unknown setting 'rat'; did you mean 'rate'?"],
    ),
    "allow-host as a URL": (
        ["--allow-host", "http://127.0.0.1:8000/"],
        {},
        None,
        ["allowed_hosts", "from --allow-host", "give host or host:port", "'127.0.0.1:8000'"],
    ),
    "bad regex": (
        [],
        {},
        "[fetch]\npage_patterns = ['^/project/(']\n",
        ["page_patterns", "pipeline.toml [fetch]", "not a regular expression"],
    ),
    "missing url list": (
        ["--url-list", "nowhere.txt"],
        {},
        None,
        ["url_list", "from --url-list", "no such file", "/nowhere.txt"],
    ),
    "empty data dir": ([], {"IDF_ETL_DATA_DIR": ""}, None, ["IDF_ETL_DATA_DIR is empty"]),
    "rate nan": (["--rate", "nan"], {}, None, ["invalid setting rate", "from --rate", "finite"]),
    "timeout inf": (
        [],
        {"IDF_ETL_READ_TIMEOUT": "inf"},
        None,
        ["invalid setting read_timeout", "from environment variable IDF_ETL_READ_TIMEOUT"],
    ),
    "timeout zero": (
        ["--set", "connect_timeout=0"],
        {},
        None,
        ["invalid setting connect_timeout", "from --set connect_timeout", "greater than 0"],
    ),
    "negative timeout in file": (
        [],
        {},
        "[fetch]\nread_timeout = -1\n",
        ["invalid setting read_timeout", "pipeline.toml [fetch]"],
    ),
    # The flag's value is blamed on the flag, not on the file beside it.
    "flag over file": (
        ["--concurrency", "0"],
        {},
        "[fetch]\nconcurrency = 2\n",
        ["invalid setting concurrency = 0", "from --concurrency"],
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_configuration_exits_2_before_any_request(server, tmp_path, case):
    args, env, config, expected = CASES[case]
    if config is not None:
        args = [*args, "--config", str(write(tmp_path / "pipeline.toml", config))]
    proc = idf_etl(
        "run",
        "--start-url",
        server.url_for("/sitemap.xml"),
        "--data-dir",
        "data",
        *args,
        cwd=tmp_path,
        env=clean_env(**env),
    )
    assert proc.returncode == 2, proc.stderr
    for words in expected:
        assert words in proc.stderr, (words, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert server.log == []  # nothing was asked of the site
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("dir", None, "is a directory"),
        ("latin1.toml", b"# caf\xe9\n[fetch]\nrate = 1\n", "is not UTF-8"),
    ],
)
def test_unreadable_config_path_exits_2(server, tmp_path, name, content, expected):
    path = tmp_path / name
    if content is None:
        path.mkdir()
    else:
        write(path, content)
    proc = idf_etl(
        "fetch", "--config", str(path), "--start-url", server.url_for("/sitemap.xml"), cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    assert f"config file {path}" in proc.stderr and expected in proc.stderr
    assert server.log == []
