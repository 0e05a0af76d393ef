"""A number setting read from text: durations with units ('15s', '4h', 'PT4H') where the
setting is one, and for every number setting a value that is not one refused in one line
saying what it wants (before: `--set run_timeout=15s` was "unable to parse string as a
number"; adversary, issue 22)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from idf_etl.config import Settings
from idf_etl.errors import ConfigError
from idf_etl.numerals import duration_seconds
from idf_etl.setting_numbers import DURATIONS, NUMBER_TYPES, read_number
from idf_etl.settings_sources import load_settings
from tests.helpers.cli import clean_env, idf_etl

UNITS = {
    "d": (86400, ["d", "day", "days"]),
    "h": (3600, ["h", "hr", "hrs", "hour", "hours", "H"]),
    "m": (60, ["m", "min", "mins", "minute", "minutes"]),
    "s": (1, ["s", "sec", "secs", "second", "seconds", "S"]),
}
amounts = st.one_of(st.integers(0, 10**6), st.decimals(0, 10**5, places=3).map(float))


def written(amount: float) -> str:
    """12.5 -> '12.5', 1000000 -> '1000000' (no exponent: a person's way of writing it)."""
    return f"{amount:.3f}".rstrip("0").rstrip(".")


@st.composite
def durations(draw: st.DrawFn) -> tuple[str, float]:
    """A duration as a person writes one, and the seconds it says."""
    parts = draw(st.dictionaries(st.sampled_from("dhms"), amounts, min_size=1))
    order = [u for u in "dhms" if u in parts]
    if draw(st.booleans()):  # ISO 8601
        date = f"{written(parts['d'])}D" if "d" in parts else ""
        time = "".join(f"{written(parts[u])}{u.upper()}" for u in "hms" if u in parts)
        text = "P" + date + ("T" + time if time else "")
        if text == "P":
            text = "PT0S"
    else:
        gap = draw(st.sampled_from(["", " "]))
        text = " ".join(
            f"{written(parts[u])}{gap}{draw(st.sampled_from(UNITS[u][1]))}" for u in order
        )
    total = sum(parts[u] * UNITS[u][0] for u in order)
    return draw(st.sampled_from(["", " ", "\t"])) + text, total


@given(durations())
@example(("1h30m", 5400.0))
@example(("PT4H", 14400.0))
@example(("15s", 15.0))
def test_a_duration_with_units_reads_as_the_seconds_it_says(drawn):
    text, total = drawn
    seconds = duration_seconds(text)
    assert seconds is not None and math.isclose(seconds, total, rel_tol=1e-9, abs_tol=1e-9), text


@given(st.text(max_size=40) | st.text(alphabet="0123456789.PTDHMSdhms ", max_size=12))
@example("15")  # a bare number is the setting's own unit: not read here
@example("1h30")
@example("P1DT")
@example("1.2.3s")
@example("-5m")
def test_any_text_is_a_duration_or_none_never_an_exception(text):
    seconds = duration_seconds(text)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)
    if text.strip().replace(".", "", 1).isascii() and text.strip().replace(".", "", 1).isdigit():
        assert seconds is None


NUMBER_SETTINGS = sorted(
    name for name, field in Settings.model_fields.items() if field.annotation in NUMBER_TYPES
)


@given(name=st.sampled_from(NUMBER_SETTINGS), text=st.text(max_size=30))
@example(name="run_timeout", text="15 parsecs")
@example(name="concurrency", text="2.5")
@example(name="max_bytes", text="5MB")
@example(name="run_timeout", text="\u0663")  # another script's 3: float() reads it
def test_every_number_setting_takes_a_number_or_says_what_it_wants(name, text):
    field = Settings.model_fields[name]
    whole = field.annotation in (int, int | None)
    try:
        value = read_number(name, text, whole, field.get_default())
    except ValueError as exc:
        said = str(exc)
        assert said.startswith("is not "), said
        assert ("duration" in said) == (name in DURATIONS)
        with pytest.raises(ConfigError) as refused:
            load_settings(None, {name: text}, environ={}, origins={name: f"--set {name}"})
        line = str(refused.value)
        assert "\n" not in line and f"invalid setting {name} " in line and said in line
        return
    assert isinstance(value, int if whole else float)
    assert text.isascii()


SETTINGS_FILE = 'run_timeout = "2h30m"\nrevalidate_days = "36h"\nbackoff_max = "PT2M"\n'


def test_durations_through_the_cli_from_each_source(tmp_path: Path):
    """--set, IDF_ETL_*, and the pipeline file: the run's lock record says what it read."""
    config = tmp_path / "pipeline.toml"
    config.write_text(SETTINGS_FILE)

    def fetch(*args: str, **env: str) -> float:
        data = tmp_path / f"data{len(list(tmp_path.iterdir()))}"
        proc = idf_etl(
            "fetch", "--start-url", "http://127.0.0.1:9/sitemap.xml", "--data-dir", str(data),
            "--set", "max_retries=0", *args, cwd=tmp_path, env=clean_env(**env), timeout=120,
        )  # fmt: skip
        assert "invalid setting" not in proc.stderr, proc.stderr
        return json.loads((data / ".idf-etl.lock").read_text())["run_timeout"]

    assert fetch("--set", "run_timeout=15s") == 15
    assert fetch(IDF_ETL_RUN_TIMEOUT="PT4H") == 14400
    assert fetch("--config", str(config)) == 9000
    refused = idf_etl(
        "fetch", "--start-url", "http://127.0.0.1:9/sitemap.xml", "--data-dir",
        str(tmp_path / "refused"), "--set", "run_timeout=15 parsecs", cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 2
    [line] = [x for x in refused.stderr.splitlines() if "idf-etl:" in x]
    assert "invalid setting run_timeout = '15 parsecs' (from --set run_timeout): is not a " in line
    assert "a number with a unit (90s, 30m, 4h, 1d, 1h30m; ISO 8601's PT4H)" in line
    assert not (tmp_path / "refused").exists()  # refused before anything was made


def test_a_duration_setting_in_days_reads_units_in_days():
    settings = load_settings(None, {"revalidate_days": "36h"}, environ={})
    assert settings.revalidate_days == 1.5
    assert load_settings(None, {"revalidate_days": "7"}, environ={}).revalidate_days == 7
