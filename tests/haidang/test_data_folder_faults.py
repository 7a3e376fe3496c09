"""`haidang run` when the data folder cannot be written: a clear one-line error and exit 1, never a
traceback; once the cause is gone the next run finishes and nothing stored before is lost."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from haidang.settings import load_settings
from haidang.store import SQLITE_FILE_NAME


def _point_data_at(config: Path, data: Path) -> None:
    path = config / "haidang.yaml"
    settings = load_settings(config, environ={})
    path.write_text(path.read_text(encoding="utf-8").replace(str(settings.data_dir), str(data)), encoding="utf-8")


def test_a_data_folder_that_cannot_be_created_is_one_clear_line(demo_config: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    _point_data_at(demo_config, blocker / "data")
    done = subprocess.run([sys.executable, "-m", "haidang", "run", "--config", str(demo_config)],
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "cannot create the data folder" in done.stderr and "HAIDANG_HOME" in done.stderr


@pytest.mark.slow
def test_a_run_on_a_full_disk_fails_clearly_and_the_next_run_loses_nothing(demo_config: Path) -> None:
    if (os.geteuid() != 0 or shutil.which("unshare") is None
            or subprocess.run(["unshare", "-m", "true"], check=False, capture_output=True).returncode != 0):
        pytest.skip("a small tmpfs needs root and unshare(1) (a private mount namespace)")
    data = load_settings(demo_config, environ={}).data_dir
    data.mkdir(parents=True, exist_ok=True)
    run = f"{sys.executable} -m haidang run --config {demo_config}"
    # One mount namespace: a 300 KiB disk fills up during the first run; the second has room.
    shell = (f"mount -t tmpfs -o size=300k tmpfs {data} || exit 77; "
             f"{run} > {data.parent}/full.out 2> {data.parent}/full.err; echo $? > {data.parent}/full.rc; "
             f"mount -o remount,size=64m {data} && {run} > {data.parent}/room.out 2> {data.parent}/room.err; "
             f"echo $? > {data.parent}/room.rc; "
             f"{sys.executable} -c \"import sqlite3; c = sqlite3.connect('{data / SQLITE_FILE_NAME}'); "
             f"print(c.execute('PRAGMA integrity_check').fetchone()[0], "
             f"c.execute('SELECT count(*), count(DISTINCT canonical_url) FROM articles').fetchone())\"")
    done = subprocess.run(["unshare", "-m", "sh", "-c", shell], check=False, capture_output=True, text=True, timeout=400)
    if done.returncode == 77:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr[-2000:]
    full_err = (data.parent / "full.err").read_text(encoding="utf-8")
    assert (data.parent / "full.rc").read_text().strip() == "1"
    assert "Traceback" not in full_err
    assert "the disk holding the data folder is full" in full_err and "another process" not in full_err
    assert (data.parent / "room.rc").read_text().strip() == "0", (data.parent / "room.err").read_text()[-2000:]
    assert done.stdout.split()[0] == "ok"

    # the same articles as a run that never saw a full disk, each once
    clean = demo_config.parent / "clean-data"
    _point_data_at(demo_config, clean)
    assert subprocess.run(run.split(), check=False, capture_output=True, timeout=300).returncode == 0
    with sqlite3.connect(clean / SQLITE_FILE_NAME) as conn:
        expected = conn.execute("SELECT count(*), count(DISTINCT canonical_url) FROM articles").fetchone()
    assert done.stdout.strip().endswith(f"({expected[0]}, {expected[1]})")
