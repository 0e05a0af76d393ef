"""The nightly schedule as shipped: systemd units that verify, a cron line that logs and alerts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.cli import clean_env

REPO = Path(__file__).parents[2]
UNITS = REPO / "pipelines" / "systemd"


def filled_in(tmp_path: Path) -> list[Path]:
    """The units with the checkout's path where they say %h/idf-etl, as the README tells."""
    out = []
    for unit in sorted(UNITS.glob("idf-etl*")):
        target = tmp_path / unit.name
        target.write_text(unit.read_text().replace("%h/idf-etl", str(REPO)))
        out.append(target)
    return out


def test_units_name_their_paths_and_alert_on_failure():
    service = (UNITS / "idf-etl.service").read_text()
    assert "network-online.target" not in service.split("[Unit]")[1]  # a user manager ignores it
    assert "loginctl enable-linger" in service
    (on_failure,) = re.findall(r"^OnFailure=(\S+)", service, re.M)
    alert = (UNITS / on_failure).read_text()
    assert "pipelines/alert.sh" in alert
    for text in (service, alert):
        assert re.search(r"^WorkingDirectory=%h/idf-etl$", text, re.M)
        assert re.search(r"^ExecStart=%h/idf-etl/", text, re.M)


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here"
)
def test_systemd_analyze_verifies_the_filled_in_units(tmp_path):
    units = filled_in(tmp_path)
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr  # no "unknown key" warnings either
    # and it would notice a wrong path:
    broken = tmp_path / "idf-etl.service"
    broken.write_text(broken.read_text().replace(f"ExecStart={REPO}", "ExecStart=/nowhere"))
    bad = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0 and "/nowhere" in bad.stderr


def cron_command() -> str:
    lines = [
        x
        for x in (REPO / "pipelines" / "crontab").read_text().splitlines()
        if x and not x.startswith("#") and "=" not in x.split()[0]
    ]
    assert len(lines) == 1
    assert "%" not in lines[0]  # cron would turn it into a newline
    return lines[0].split(None, 5)[5]


def fake_home(tmp_path: Path) -> Path:
    """$HOME with ~/idf-etl being this checkout's venv and pipelines, and its own data/."""
    checkout = tmp_path / "home" / "idf-etl"
    (checkout / "data").mkdir(parents=True)
    for name in (".venv", "pipelines"):
        (checkout / name).symlink_to(REPO / name)
    return tmp_path / "home"


@pytest.mark.slow
def test_cron_line_logs_with_timestamps_and_prints_only_on_failure(tmp_path):
    home = fake_home(tmp_path)
    # A bad setting: the run exits 2, and the line prints the alert for cron to mail.
    failed = subprocess.run(
        ["sh", "-c", cron_command()],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(HOME=str(home), IDF_ETL_RATE="-1"),
    )
    assert "idf-etl nightly run failed" in failed.stdout and "(exit 2)" in failed.stdout
    assert "== idf-etl status (last lines) ==" in failed.stdout
    log = (home / "idf-etl" / "data" / "idf-etl.log").read_text()
    assert re.search(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} ERROR idf-etl: invalid setting rate", log, re.M
    )
    assert "invalid setting rate" in failed.stdout  # the log's last lines are in the alert
    # Another run holds the lock (exit 3): nothing printed, so cron mails nothing.
    from idf_etl.pipeline.lock import RunLock

    with RunLock(home / "idf-etl" / "data"):
        locked = subprocess.run(
            ["sh", "-c", cron_command()],
            capture_output=True,
            text=True,
            timeout=120,
            env=clean_env(HOME=str(home)),
        )
    assert (locked.returncode, locked.stdout, locked.stderr) == (0, "", "")


@pytest.mark.slow
def test_cron_line_alerts_on_a_stuck_holder_and_not_on_a_fresh_one(tmp_path):
    """The shipped line, the real idf-etl and alert.sh: a run holding the lock for longer
    than twice its run_timeout is mailed (exit 4); one going for a minute is not (exit 3)."""
    from tests.helpers.lock import age_past, holder

    home = fake_home(tmp_path)
    data = home / "idf-etl" / "data"

    def nightly() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", cron_command()],
            capture_output=True,
            text=True,
            timeout=120,
            env=clean_env(HOME=str(home)),
        )

    with holder(data, run_timeout=3600):
        fresh = nightly()
    assert (fresh.returncode, fresh.stdout, fresh.stderr) == (0, "", "")
    with holder(data, run_timeout=0.5) as proc:
        age_past(proc, 1.0)
        stuck = nightly()
    assert "idf-etl nightly run failed" in stuck.stdout and "(exit 4)" in stuck.stdout
    # the run's one line, from the log's tail, is in the mail: which process, what to do
    assert f"probably stuck (pid {proc.pid}" in stuck.stdout
    assert f"kill {proc.pid}" in stuck.stdout
