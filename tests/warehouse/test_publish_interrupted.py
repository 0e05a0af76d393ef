"""A publish stopped at any step (Ctrl-C, a full disk) leaves either the release published
or nothing of it kept: a release `current` never led to is no kept release (restore would
offer a run that said "interrupted"; adversary, #22)."""

from __future__ import annotations

from contextlib import nullcontext
from unittest import mock

import duckdb
import pytest

from idf_etl.warehouse.publish import Publisher, run_number
from idf_etl.warehouse.schema import create_schema


def publish_run(publisher: Publisher, run_id: int) -> None:
    con = duckdb.connect(str(publisher.prepare()))
    create_schema(con)
    publisher.publish(con, run_id)


def _stop(*_args: object, **_kwargs: object) -> None:
    raise KeyboardInterrupt


# Where the publish is stopped, and whether `current` had moved by then.
STEPS = {
    "syncing the releases directory": ("idf_etl.warehouse.publish._fsync_dir", False),
    "making the pointer": ("pathlib.Path.symlink_to", False),
    "moving the pointer": ("idf_etl.warehouse.publish.os.replace", False),
    "linking the published names": (
        "idf_etl.warehouse.publish.Publisher._link_published_names",
        True,
    ),
}


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize(
    "error", [KeyboardInterrupt(), OSError(28, "No space left on device")], ids=["ctrl-c", "disk"]
)
def test_a_publish_stopped_at_any_step_keeps_it_whole_or_not_at_all(tmp_path, step, error):
    target, moved = STEPS[step]
    publisher = Publisher(tmp_path / "clean", keep=3)
    publish_run(publisher, 1)
    con = duckdb.connect(str(publisher.prepare()))
    create_schema(con)

    real_replace = __import__("os").replace
    calls = {"n": 0}

    def stop_at_step(*args: object, **kwargs: object) -> object:
        # os.replace: the first moves the release into place; the second (the pointer) stops.
        if target.endswith("os.replace"):
            calls["n"] += 1
            if calls["n"] != 2:
                return real_replace(*args, **kwargs)
        raise error

    # A full disk once `current` has moved: published all the same, a note says what was
    # not made (the run ends by what it published); Ctrl-C still stops the run.
    published_anyway = moved and isinstance(error, OSError)
    expected = nullcontext() if published_anyway else pytest.raises(type(error))
    with mock.patch(target, side_effect=stop_at_step), expected:
        publisher.publish(con, 2)
    if published_anyway:
        assert "published, but the published names were not all made" in publisher.notes[-1]

    current = publisher.current_release()
    assert current is not None
    assert run_number(current) == (2 if moved else 1)
    kept = [run_number(r) for r in publisher.kept()]
    assert kept == ([2, 1] if moved else [1])
    assert publisher.building.exists() != moved  # unpublished: back to being built
    if not moved:  # the next run removes it and publishes run 2 as any other
        publish_run(publisher, 2)
        assert [run_number(r) for r in publisher.kept()] == [2, 1]
