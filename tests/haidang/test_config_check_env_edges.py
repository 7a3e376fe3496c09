"""`haidang config check` against variables a shell or an env file can really hold: bytes that are
not UTF-8 (a secret from /dev/urandom), a secret at exactly the minimum length. What the check
accepts, the commands must accept too; what a command would die on, the check must name. Real
processes with a real environment (bytes, as the kernel hands them over)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.links import MIN_SECRET_CHARS
from haidang.demo import write_demo_config


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    return write_demo_config("http://127.0.0.1:9", tmp_path / "config", tmp_path / "data")


def _haidang(*args: str, **variables: bytes) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environb.items() if not k.startswith(b"HAIDANG_") and k != b"ELASTICSEARCH_URL"}
    env[b"COLUMNS"] = b"1000"
    env.update({k.encode(): v for k, v in variables.items()})
    return subprocess.run([sys.executable, "-m", "haidang", *args], check=False, capture_output=True, text=True,
                          timeout=120, env=env)


def test_a_secret_that_is_not_utf8_is_an_error_in_the_check_and_in_every_command(config: Path) -> None:
    secret = b"\xff\xfe" + b"x" * 40         # bytes no UTF-8 reader takes, as `head -c 40 /dev/urandom` writes
    check = _haidang("config", "check", "--config", str(config), HAIDANG_LINK_SECRET=secret)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "Traceback" not in check.stderr
    [line] = [x for x in check.stderr.splitlines() if "environment: HAIDANG_LINK_SECRET: " in x]
    assert "UTF-8" in line and "token_urlsafe" in line
    run = _haidang("run", "--config", str(config), HAIDANG_LINK_SECRET=secret)
    assert run.returncode != 0 and "Traceback" not in run.stderr, run.stderr[-1500:]
    assert "HAIDANG_LINK_SECRET" in run.stderr


@pytest.mark.parametrize(("length", "ok"), [(MIN_SECRET_CHARS - 1, False), (MIN_SECRET_CHARS, True)])
def test_a_secret_at_the_minimum_length(config: Path, length: int, ok: bool) -> None:
    secret = "ặ" * length                     # characters, not bytes, as the signer counts them
    check = _haidang("config", "check", "--config", str(config), HAIDANG_LINK_SECRET=secret.encode())
    assert (check.returncode == 0) is ok, check.stderr
