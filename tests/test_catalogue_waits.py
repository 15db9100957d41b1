"""Catalogue, class "bounded waits, clean stops" (issue 15): every timeout validated
(a usage error, exit 2, before anything connects); SIGINT and SIGTERM stop a run
at a safe point with its locks released and the run recorded as interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from migrator.heat.connection import make_engine
from migrator.heat.schema import stack_lock

from helpers import cli, dump

NAMES = ("CONVMIG_CONNECT_TIMEOUT", "CONVMIG_READ_TIMEOUT", "CONVMIG_WRITE_TIMEOUT")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf"])
def test_bad_timeout_is_a_usage_error(make_sample, name, value):
    url, _ = make_sample(roots=1, seed=41)
    before = dump(url)
    result = cli("--db", url, "migrate", "--all", env={name: value})
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, result.stderr
    assert len(lines) == 1 and name in lines[0] and "positive number" in lines[0]
    assert dump(url) == before


def test_silent_server_is_bounded(sqlite_url):
    """A server that accepts the connection and never answers: the connect timeout ends it."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        for url in (f"mysql+pymysql://u@127.0.0.1:{port}/heat", f"postgresql+psycopg://u@127.0.0.1:{port}/heat"):
            result = cli("--db", url, "status", env={"CONVMIG_CONNECT_TIMEOUT": "2", "CONVMIG_READ_TIMEOUT": "2"})
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            assert result.exit_code == 1 and len(lines) == 1, result.stderr
    finally:
        server.close()


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_at_a_safe_point(make_sample, tmp_path, sig, code):
    url, _ = make_sample(roots=6, seed=42)
    locks_before = dump(url)["stack_lock"]  # the sample's own (a Heat engine's) locks stay
    marker = tmp_path / "at-failpoint"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVMIG_")}
    env.update(CONVMIG_FAILPOINT="after-record:1:pause", CONVMIG_FAILPOINT_FILE=str(marker), PYTHONPATH=os.getcwd())
    proc = subprocess.Popen([sys.executable, "-m", "migrator", "--db", url, "migrate", "--all", "--batch-size", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(sig)
    marker.unlink()
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    lines = [line for line in err.splitlines() if line.startswith("convmig: error")]
    assert len(lines) == 1 and "safe point" in lines[0] and "Traceback" not in err, err
    assert dump(url)["stack_lock"] == locks_before  # every lock of ours released
    result = cli("--db", url, "log", "--event", "run-finished", "--format", "json")
    assert '"summary": "interrupted ' in result.stdout, result.stdout
    assert cli("--db", url, "migrate", "--all").exit_code in (0, 1)
    assert cli("--db", url, "log", "--verify").exit_code == 0
