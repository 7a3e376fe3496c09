"""Configuration: the shipped files load; each bad file names its file, line and field."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from haidang.errors import ConfigError
from haidang.settings import DEFAULT_CONFIG_DIR, check_config_dir, load_settings

CASES = sorted((Path(__file__).parent.parent / "fixtures" / "config_errors").glob("*.yaml"))


def test_shipped_config_is_valid():
    assert check_config_dir(DEFAULT_CONFIG_DIR) == []
    settings = load_settings(DEFAULT_CONFIG_DIR, environ={})
    assert settings.app.province == "Quảng Ngãi"
    assert len(settings.sources) >= 20
    assert all(not s.verified for s in settings.sources), "nobody has checked a source from here"
    assert not any(s.local for s in settings.sources)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_file_names_file_line_and_field(case: Path, tmp_path: Path):
    expect = re.match(r"# expect: line (\d+), field ([^,]*), (.+)", case.read_text(encoding="utf-8"))
    assert expect, f"{case.name} must start with an '# expect:' line"
    line, field, message = int(expect[1]), expect[2].strip(), expect[3].strip()
    target = case.name.split(".", 1)[1]                      # e.g. sources.yaml
    for name in ("haidang.yaml", "landmarks.yaml"):
        shutil.copy(DEFAULT_CONFIG_DIR / name, tmp_path / name)
    shutil.copy(case, tmp_path / target)
    problems = check_config_dir(tmp_path)
    assert problems, "the bad file was accepted"
    assert any(Path(file).name == target and got_line == line and got_field == field
               and message.lower() in got_message.lower()
               for file, got_line, got_field, got_message in problems), problems
    with pytest.raises(ConfigError):
        load_settings(tmp_path, environ={})


def test_environment_overrides_yaml(tmp_path: Path):
    settings = load_settings(DEFAULT_CONFIG_DIR, environ={"HAIDANG_HOME": str(tmp_path), "HAIDANG_PROVINCE": "82"})
    assert settings.data_dir == tmp_path
    assert settings.app.province == "82"


def test_missing_config_dir_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope", environ={})


def test_decomposed_vietnamese_in_yaml_reads_as_the_composed_value(tmp_path: Path):
    """An editor saving NFD must not make "khẩn" differ from the "khẩn" it looks like."""
    import unicodedata

    shutil.copytree(DEFAULT_CONFIG_DIR, tmp_path, dirs_exist_ok=True)
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text(unicodedata.normalize("NFD", alerts.read_text(encoding="utf-8")), encoding="utf-8")
    assert check_config_dir(tmp_path) == []
    settings = load_settings(tmp_path, environ={})
    assert "khẩn" in {rule.severity for rule in settings.alert_rules}


def test_smtp_sender_needs_an_address(tmp_path: Path):
    shutil.copytree(DEFAULT_CONFIG_DIR, tmp_path, dirs_exist_ok=True)
    config = tmp_path / "haidang.yaml"
    config.write_text(config.read_text(encoding="utf-8")
                      + "smtp:\n  host: 127.0.0.1\n  sender: Sở TT&TT Quảng Ngãi\n", encoding="utf-8")
    problems = check_config_dir(tmp_path)
    assert any(field == "smtp.sender" and "email address" in message for _, _, field, message in problems), problems
    config.write_text(config.read_text(encoding="utf-8").replace(
        "sender: Sở TT&TT Quảng Ngãi", "sender: Sở TT&TT Quảng Ngãi <haidang@example.gov.vn>"), encoding="utf-8")
    assert check_config_dir(tmp_path) == []


def test_the_wait_for_the_servers_answer_must_end_within_the_delivery_lease(tmp_path: Path):
    """Still waiting when the lease ends, a send could be made a second time by another process."""
    shutil.copytree(DEFAULT_CONFIG_DIR, tmp_path, dirs_exist_ok=True)
    config = tmp_path / "haidang.yaml"
    base = config.read_text(encoding="utf-8")
    config.write_text(base + "smtp:\n  host: 127.0.0.1\n  sender: haidang@example.gov.vn\n  reply_timeout_s: 600\n",
                      encoding="utf-8")
    problems = check_config_dir(tmp_path)
    assert any("reply_timeout_s" in message and "lease_minutes" in message for *_, message in problems), problems
    config.write_text(base + "smtp:\n  host: 127.0.0.1\n  sender: haidang@example.gov.vn\n", encoding="utf-8")
    assert check_config_dir(tmp_path) == []
