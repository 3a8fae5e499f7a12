"""deploy/bootstrap.sh waits for apt's locks and, in CI, refuses to go on without the test tools."""

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.browser import missing_tool

ROOT = Path(__file__).resolve().parents[2]
HOLD = """
import fcntl, sys, time
lock = open(sys.argv[1], "rb+")
fcntl.lockf(lock, fcntl.LOCK_EX)  # the POSIX record lock apt and dpkg take
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def held_lock(tmp_path):
    """`held_lock(seconds)` → a file another process holds apt's kind of lock on for that long."""
    path = tmp_path / "lock-frontend"
    path.touch()
    holders = []

    def hold(seconds: float) -> Path:
        holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)],
                                  stdout=subprocess.PIPE, text=True)
        holders.append(holder)
        assert holder.stdout.readline().strip() == "held"
        return path

    yield hold
    for holder in holders:
        holder.kill()
        holder.wait()


def wait_for_locks(timeout: int, *paths: Path) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", '. deploy/_common.sh && wait_for_locks "$@"', "wait", str(timeout), *map(str, paths)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    return done, time.monotonic() - started


def test_the_lock_wait_returns_as_soon_as_the_other_apt_lets_go(held_lock):
    path = held_lock(1.5)
    done, took = wait_for_locks(30, path)
    assert done.returncode == 0, done.stderr
    assert "Waiting up to 30 s" in done.stderr
    assert 1.0 <= took < 10


def test_the_lock_wait_gives_up_after_its_bound(held_lock):
    path = held_lock(60)
    done, took = wait_for_locks(1, path)
    assert done.returncode == 1
    assert f"Still locked after 1 s: {path}" in done.stderr
    assert took < 10


def test_free_or_absent_locks_are_not_waited_for(tmp_path):
    free = tmp_path / "lock"
    free.touch()
    done, took = wait_for_locks(30, free, tmp_path / "absent")
    assert done.returncode == 0 and done.stderr == "" and took < 5


def bootstrap_system_packages(tmp_path, *, ci: bool) -> subprocess.CompletedProcess:
    """deploy/bootstrap.sh --system-only with a package that cannot be installed (apt-get is `false`)."""
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env.update({
        "CONVERSA_SYSTEM_PACKAGES": "conversa-test-no-such-package",
        "CONVERSA_APT_GET": "false",
        "CONVERSA_APT_LOCKS": str(tmp_path / "lock"),
        "APT_LOCK_TIMEOUT_SECONDS": "5",
        "TMPDIR": str(tmp_path),
    })
    if ci:
        env["CI"] = "true"
    return subprocess.run(["deploy/bootstrap.sh", "--system-only"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_in_ci_a_system_package_that_cannot_be_installed_stops_the_bootstrap(tmp_path):
    done = bootstrap_system_packages(tmp_path, ci=True)
    assert done.returncode != 0
    assert "conversa-test-no-such-package" in done.stderr and "CI=true" in done.stderr


def test_elsewhere_it_is_a_warning_and_apt_s_log_is_a_private_file(tmp_path):
    done = bootstrap_system_packages(tmp_path, ci=False)
    assert done.returncode == 0, done.stderr
    assert "conversa-test-no-such-package" in done.stderr
    assert "/tmp/conversa-apt.log" not in done.stderr
    if os.geteuid() == 0:  # only root runs apt; others are told what to install
        logs = list(tmp_path.glob("conversa-apt.*"))
        assert len(logs) == 1 and str(logs[0]) in done.stderr
        assert stat.S_IMODE(logs[0].stat().st_mode) == 0o600


def test_a_missing_browser_skips_a_test_but_fails_it_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        missing_tool("/usr/bin/chromium is missing")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        missing_tool("/usr/bin/chromium is missing")
