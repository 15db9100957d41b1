"""Hash formats: new events are hashed with orjson (format 2) and say so; logs
written before formats existed (format 1, no ``hash_format`` field) still verify,
also once new events are appended to their chains.

``data/v1-*.sqlite`` were written by convmig before this change (commit b7b5a28:
``build_sample(roots=3, seed=7, specials=False)``, then ``migrate --all`` with
``--event-store`` on its own file), so they are the old code's own output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from events import EventLog
from events.chain import HASH_FORMAT, canonical, canonical_v2

DATA = Path(__file__).parent / "data"
V1_RUN = "acf9e0eb-1ec1-44be-b431-e016502e98a7"


def convmig(heat: Path, events: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVMIG_")}
    return subprocess.run([sys.executable, "-m", "migrator", "--db", f"sqlite:///{heat}", "--event-store",
                           f"sqlite:///{events}", *args], capture_output=True, text=True, env=env, timeout=300)


def formats(events: Path) -> list[int]:
    """The hash format of every stored event, in log order."""
    log = EventLog.open(f"sqlite:///{events}")
    try:
        return [getattr(log.decode(n), "hash_format", 1) for n in log.notifications(after=None, limit=10_000)]
    finally:
        log.close()


def copies(tmp_path: Path) -> tuple[Path, Path]:
    heat, events = tmp_path / "heat.sqlite", tmp_path / "events.sqlite"
    shutil.copyfile(DATA / "v1-heat.sqlite", heat)
    shutil.copyfile(DATA / "v1-events.sqlite", events)
    return heat, events


def test_a_log_written_before_hash_formats_verifies(tmp_path):
    heat, events = copies(tmp_path)
    assert set(formats(events)) == {1}
    out = convmig(heat, events, "log", "--verify")
    assert out.returncode == 0, out.stderr
    assert "verified clean (4 chains, 14 events)" in out.stderr


def test_old_chains_extended_with_new_events_verify(tmp_path):
    heat, events = copies(tmp_path)
    rolled = convmig(heat, events, "rollback", "--run", V1_RUN, "--yes")
    assert rolled.returncode == 0, rolled.stderr
    seen = formats(events)
    assert seen[:14] == [1] * 14 and set(seen[14:]) == {HASH_FORMAT} and len(seen) > 14
    out = convmig(heat, events, "log", "--verify")
    assert out.returncode == 0, out.stderr
    assert "verified clean" in out.stderr


def test_an_edit_of_an_old_event_is_still_found(tmp_path):
    """Another stack's plan pasted over one (it decodes fine): its format 1 digest
    no longer matches the link its successor recorded."""
    import sqlite3

    heat, events = copies(tmp_path)
    db = sqlite3.connect(events)
    (a, state), (b, _) = db.execute(
        "SELECT id, state FROM convmig_events WHERE originator_version = 2 AND topic LIKE '%Planned' ORDER BY id LIMIT 2").fetchall()
    db.execute("UPDATE convmig_events SET state = ? WHERE id = ?", (state, b))
    db.commit()
    db.close()
    out = convmig(heat, events, "log", "--verify")
    assert out.returncode != 0
    assert "edited" in out.stdout + out.stderr


def test_format_2_bytes_written_by_hand():
    """Sorted keys, no spaces, UTF-8, and format 1's tags for bytes and datetimes."""
    value = {"b": [1, "é", None, True], "a": {"$": b"x", "t": datetime(2024, 3, 1, 12, 0, 5)}}
    assert canonical_v2(value) == (
        b'{"a":{"$":{"$bytes":"eA=="},"t":{"$datetime":"2024-03-01T12:00:05"}},"b":[1,"\xc3\xa9",null,true]}'
    )


def test_format_2_falls_back_to_format_1_where_orjson_cannot():
    value = {"big": 2**70}
    assert canonical_v2(value) == canonical(value) == b'{"big":1180591620717411303424}'
