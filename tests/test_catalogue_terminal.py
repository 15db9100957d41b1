"""Catalogue, class "secrets and terminals" (issue 15): a URL that does not parse
cleanly shows nothing between ``://`` and the host; no control character from
Heat's database reaches the terminal, in any command or format."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from events.secrets import mask_urls
from migrator.heat import schema
from migrator.heat.connection import make_engine, safe_url

from helpers import cli, dump

PASSWORD = "p@ss/w0rd!X"  # 11 characters, unencoded @ and /


@pytest.mark.parametrize("url, shown", [
    (f"mysql+pymysql://heat:{PASSWORD}@db.example/heat", "mysql+pymysql://***@db.example/heat"),
    (f"postgresql://heat:{PASSWORD}@db.example:5432/heat?sslmode=require", "postgresql://***@db.example:5432/heat?sslmode=require"),
    ("postgresql://heat:plain@db.example/heat", "postgresql://heat:***@db.example/heat"),
    ("mysql://heat:a:b@db.example/heat", "mysql://heat:***@db.example/heat"),
])
def test_url_shown_without_any_password_character(url, shown):
    assert safe_url(url) == shown


def test_event_store_url_with_awkward_password_is_refused(sqlite_url):
    result = cli("--db", sqlite_url, "--event-store", f"postgresql://heat:{PASSWORD}@127.0.0.1:9/heat", "log")
    assert result.exit_code == 1 and "percent-encode" in result.stderr
    assert not any(part in result.stderr for part in ("p@ss", "w0rd", "ss/w", "!X"))


def test_recorded_text_masks_the_whole_password():
    text = f"cannot use mysql://heat:{PASSWORD}@db/heat now"
    assert mask_urls(text) == "cannot use mysql://heat:***@db/heat now"


def test_unreachable_url_with_awkward_password_is_one_masked_line(sqlite_url):
    url = f"postgresql://heat:{PASSWORD}@127.0.0.1:9/heat"
    result = cli("--db", url, "status")
    assert result.exit_code == 2  # refused before any connection: the host would be a piece of the password
    assert "percent-encode" in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert not any(part in result.stderr for part in ("p@ss", "w0rd", "ss/w", "!X"))


EVIL = "web\x1b]8;;http://evil.example\x07click\x1b]8;;\x07\x1b[2J\r\x9b31m"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture
def evil_sample(make_sample):
    url, sample = make_sample(roots=2, seed=31)
    root = sample.roots[0] if hasattr(sample, "roots") else None
    engine = make_engine(url)
    with engine.begin() as conn:
        ids = [r for r in conn.execute(sa.select(schema.stack.c.id).where(schema.stack.c.owner_id.is_(None))).scalars()]
        conn.execute(schema.stack.update().where(schema.stack.c.id.in_(ids)).values(name=EVIL))
        conn.execute(schema.resource.update().values(name=EVIL[:200]))
    engine.dispose()
    return url, ids, root


@pytest.mark.parametrize("args", [
    ("status",),
    ("migrate", "--dry-run", "--all"),
    ("migrate", "--all"),
    ("log",),
    ("log", "--format", "csv"),
    ("verify", "--all"),
])
def test_no_control_character_reaches_the_terminal(evil_sample, args):
    url, ids, _ = evil_sample
    if args[0] in ("log", "verify"):
        cli("--db", url, "migrate", "--all")
    result = cli("--db", url, *args)
    assert "Traceback" not in result.stderr
    assert not CONTROL.search(result.stdout), repr(result.stdout[:400])
    assert not CONTROL.search(result.stderr), repr(result.stderr[:400])
