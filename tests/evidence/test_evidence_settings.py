"""The `escalation:` (alerts.yaml) and `recheck:` (haidang.yaml) sections: defaults, and errors that
name file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from haidang.errors import ConfigError
from haidang.settings import DEFAULT_CONFIG_DIR, load_settings


def _config(tmp_path: Path, escalation: str) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    alerts = folder / "alerts.yaml"
    text = alerts.read_text(encoding="utf-8")
    head = text.split("\nescalation:")[0]
    alerts.write_text(head + "\n" + escalation, encoding="utf-8")
    return folder


def test_shipped_config_escalates_to_the_leading_agency() -> None:
    settings = load_settings(DEFAULT_CONFIG_DIR, environ={})
    assert settings.escalation.remind_after_hours == 24 and settings.escalation.escalate_after_hours == 48
    assert settings.app.recheck.every_hours == 6 and settings.app.recheck.for_days == 30
    assert [a.id for a in settings.agencies if a.leads] == ["so-ttt"]


def test_unknown_agency_in_escalate_to_names_file_line_and_field(tmp_path: Path) -> None:
    folder = _config(tmp_path, "escalation:\n  escalate_to: [so-khong-co]\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(folder, environ={})
    [(file, line, field, message)] = caught.value.problems
    assert file.endswith("alerts.yaml") and field == "escalation.escalate_to.0" and "so-khong-co" in message
    lines = (folder / "alerts.yaml").read_text(encoding="utf-8").splitlines()
    assert line is not None and "escalate_to" in lines[line - 1]


def test_escalation_before_the_reminder_is_refused(tmp_path: Path) -> None:
    folder = _config(tmp_path, "escalation:\n  remind_after_hours: 48\n  escalate_after_hours: 24\n")
    with pytest.raises(ConfigError, match="alerts.yaml:.*escalation.*later than remind_after_hours"):
        load_settings(folder, environ={})


def test_misspelt_recheck_key_fails(tmp_path: Path) -> None:
    folder = _config(tmp_path, "")
    app = folder / "haidang.yaml"
    app.write_text(app.read_text(encoding="utf-8").replace("  every_hours: 6", "  every_hour: 6"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"haidang.yaml:\d+: recheck.every_hour"):
        load_settings(folder, environ={})
