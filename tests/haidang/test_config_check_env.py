"""`haidang config check` and the HAIDANG_* variables: each problem names the variable and what to do;
errors fail the check, variables that have no effect are warnings; `haidang run` refuses a bad value
with the same words. The real command, a real config folder, a real environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from haidang.demo import write_demo_config

SECRET = "kiem-thu-khoa-ky-duong-dan-0123456789abcdef"


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    """A valid config folder (the demo's; nothing here crawls) with its own data folder."""
    return write_demo_config("http://127.0.0.1:9", tmp_path / "config", tmp_path / "data")


def _haidang(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """The command in a child whose only HAIDANG_* (and Elasticsearch) variables are `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAIDANG_") and k != "ELASTICSEARCH_URL"}
    return subprocess.run([sys.executable, "-m", "haidang", *args], check=False, capture_output=True, text=True,
                          timeout=120, env={**env, "COLUMNS": "1000", **variables})


def _lines(output: str, variable: str) -> list[str]:
    return [line for line in output.splitlines() if f"environment: {variable}: " in line]


def test_each_bad_variable_is_an_error_naming_it(config: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder", encoding="utf-8")
    done = _haidang("config", "check", "--config", str(config), HAIDANG_STORE="elastic",
                    HAIDANG_LINK_SECRET="ngan-qua", HAIDANG_HOME=str(a_file), HAIDANG_PROVINCE="Dong Thapp")
    assert done.returncode == 1, done.stderr
    assert "config OK" not in done.stdout and "Traceback" not in done.stderr
    [store] = _lines(done.stderr, "HAIDANG_STORE")
    assert "unknown store backend 'elastic' (did you mean elasticsearch?)" in store and "sqlite" in store
    [secret] = _lines(done.stderr, "HAIDANG_LINK_SECRET")
    assert "has 8 characters; use at least 32" in secret and "ngan-qua" not in secret   # never echo a secret
    [home] = _lines(done.stderr, "HAIDANG_HOME")
    assert f"the data folder {a_file} is a file, not a folder" in home and "writable folder" in home
    [province] = _lines(done.stderr, "HAIDANG_PROVINCE")
    assert "did you mean Đồng Tháp (82)?" in province
    assert not [line for line in done.stderr.splitlines() if line.startswith("warning")]


def test_a_folder_that_cannot_be_made_is_named_on_the_variable(config: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    done = _haidang("config", "check", "--config", str(config), HAIDANG_HOME=str(blocker / "data"))
    assert done.returncode == 1
    [home] = _lines(done.stderr, "HAIDANG_HOME")
    assert f"cannot create the data folder {blocker / 'data'}: {blocker} is a file, not a folder" in home


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: permissions cannot refuse it")
def test_an_unwritable_data_folder_is_an_error(config: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    try:
        done = _haidang("config", "check", "--config", str(config), HAIDANG_HOME=str(locked))
    finally:
        locked.chmod(0o755)
    assert done.returncode == 1
    [home] = _lines(done.stderr, "HAIDANG_HOME")
    assert f"the data folder {locked} is not writable" in home


def test_variables_without_effect_are_warnings_with_the_close_name(config: Path) -> None:
    done = _haidang("config", "check", "--config", str(config), HAIDANG_PROVINE="82", HAIDANG_CONFG=str(config),
                    HAIDANG_ES_PASSWORD="mat-khau", HAIDANG_LINK_SECRET=SECRET, HAIDANG_HOME=str(config.parent / "d"))
    assert done.returncode == 0, done.stderr
    assert "config OK" in done.stdout and "3 warnings" in done.stdout
    [provine] = _lines(done.stderr, "HAIDANG_PROVINE")
    assert provine.startswith("warning:") and "ignored; did you mean HAIDANG_PROVINCE?" in provine
    [confg] = _lines(done.stderr, "HAIDANG_CONFG")
    assert "did you mean HAIDANG_CONFIG?" in confg
    [es] = _lines(done.stderr, "HAIDANG_ES_PASSWORD")
    assert "the store is sqlite" in es and "mat-khau" not in es
    assert not _lines(done.stderr, "HAIDANG_LINK_SECRET") and not _lines(done.stderr, "HAIDANG_HOME")


def test_a_config_folder_from_the_variable_that_is_not_there(tmp_path: Path) -> None:
    done = _haidang("config", "check", HAIDANG_CONFIG=str(tmp_path / "nowhere"))
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("environment: HAIDANG_CONFIG: ") and "is not a folder" in line


def test_file_and_variable_errors_are_reported_together(config: Path) -> None:
    app = config / "haidang.yaml"
    app.write_text(app.read_text(encoding="utf-8").replace("retry_times: 0", "retry_times: many"), encoding="utf-8")
    done = _haidang("config", "check", "--config", str(config), HAIDANG_STORE="SQLite", HAIDANG_PROVNCE="51")
    assert done.returncode == 1
    assert re.search(r"haidang\.yaml:\d+: crawl\.retry_times", done.stderr), done.stderr
    [store] = _lines(done.stderr, "HAIDANG_STORE")
    assert "did you mean sqlite?" in store
    assert _lines(done.stderr, "HAIDANG_PROVNCE")


def _words(text: str) -> str:
    return " ".join(text.split())      # rich wraps long lines on a narrow terminal


@pytest.mark.parametrize("variable", ["HAIDANG_STORE", "HAIDANG_HOME", "HAIDANG_LINK_SECRET"])
def test_run_refuses_a_bad_value_with_the_words_of_config_check(config: Path, tmp_path: Path,
                                                                 variable: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    value = {"HAIDANG_STORE": "elastic", "HAIDANG_HOME": str(blocker / "data"), "HAIDANG_LINK_SECRET": "x" * 31}
    check = _haidang("config", "check", "--config", str(config), **{variable: value[variable]})
    [line] = _lines(check.stderr, variable)
    message = line.split(f"environment: {variable}: ", 1)[1]
    run = _haidang("run", "--config", str(config), **{variable: value[variable]})
    assert run.returncode in (1, 2) and "Traceback" not in run.stderr, run.stderr
    assert _words(message) in _words(run.stderr)
    assert not (tmp_path / "data" / "haidang.sqlite3").exists(), "nothing was crawled or stored"
