"""`haidang users add`, `haidang audit`, `haidang feedback export`, and `haidang web` without a secret or
without a store."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from starlette.testclient import TestClient
from typer.testing import CliRunner

from haidang.cli import app
from haidang.settings import DEFAULT_CONFIG_DIR, load_settings
from haidang.store import open_store
from haidang.store.base import AuditEntry, ResponseAction
from haidang.web import build_server
from haidang.web.sessions import SessionKeeper

from .conftest import RECIPIENT, SECRET

runner = CliRunner()


def _config(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    return folder, {"HAIDANG_HOME": str(tmp_path / "data"), "HAIDANG_CONFIG": str(folder)}


def test_users_add_writes_an_argon2_hash_that_logs_in(tmp_path: Path) -> None:
    folder, env = _config(tmp_path)
    result = runner.invoke(app, ["users", "add", "canbo", "--role", "officer"], env=env,
                           input="mat-khau-rat-dai\nmat-khau-rat-dai\n")
    assert result.exit_code == 0, result.output
    text = (folder / "users.yaml").read_text(encoding="utf-8")
    assert "mat-khau-rat-dai" not in text and "$argon2id$" in text and "# Logins" in text
    again = runner.invoke(app, ["users", "add", "CanBo", "--role", "administrator"], env=env,
                          input="mat-khau-moi-dai\nmat-khau-moi-dai\n")
    assert again.exit_code == 0, again.output
    settings = load_settings(folder, environ=env)
    [user] = settings.users
    assert user.role == "administrator"
    from alerts.links import LinkSigner
    keeper = SessionKeeper(settings.users, LinkSigner(SECRET, "http://127.0.0.1:8470"))
    assert keeper.check_password("canbo", "mat-khau-moi-dai") is not None
    assert keeper.check_password("canbo", "mat-khau-rat-dai") is None
    assert runner.invoke(app, ["config", "check"], env=env).exit_code == 0
    short = runner.invoke(app, ["users", "add", "x", "--role", "viewer"], env=env, input="ngan\nngan\n")
    assert short.exit_code == 2


def test_audit_lists_actions_since(tmp_path: Path) -> None:
    folder, env = _config(tmp_path)
    settings = load_settings(folder, environ=env)
    now = datetime.now(UTC)
    store = open_store(settings.app.store)
    try:
        store.append_audit(AuditEntry(at=now - timedelta(days=40), actor="cu", kind="login", target="web", detail={}))
        store.record_action(ResponseAction(flag_key="f1", story_id="s1", article_id="a1", rule="tin_sai",
                                           action="chuyen_cong_an", actor=RECIPIENT, note="hồ sơ số 7",
                                           client="10.1.2.3", at=now - timedelta(days=1)))
    finally:
        store.close()
    result = runner.invoke(app, ["audit", "--since", "30d"], env=env)
    assert result.exit_code == 0, result.output
    assert "1 mục" in result.output and "Đã chuyển Công an tỉnh" in result.output
    assert "canbo@sotttt" in result.output and "hồ sơ số 7" in result.output and "10.1.2.3" in result.output
    as_json = runner.invoke(app, ["audit", "--since", "90d", "--json"], env=env)
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [e["kind"] for e in lines] == ["login", "action"]
    whole = runner.invoke(app, ["audit", "--since", ""], env=env)   # no start: the whole log (it used to crash)
    assert whole.exit_code == 0, whole.output
    assert "Toàn bộ nhật ký: 2 mục" in whole.output
    logins = runner.invoke(app, ["audit", "--since", "", "--kind", "login", "--json"], env=env)
    assert [json.loads(line)["actor"] for line in logins.stdout.splitlines()] == ["cu"]


def test_feedback_export(tmp_path: Path) -> None:
    folder, env = _config(tmp_path)
    settings = load_settings(folder, environ=env)
    store = open_store(settings.app.store)
    try:
        store.append_audit(AuditEntry(at=datetime(2026, 3, 12, tzinfo=UTC), actor=RECIPIENT, kind="label_correction",
                                      target="a1", detail={"article_id": "a1", "changes": {
                                          "tone": {"from": "negative", "to": "neutral"}}}))
    finally:
        store.close()
    out = tmp_path / "fb.jsonl"
    result = runner.invoke(app, ["feedback", "export", "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    [record] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert record["field"] == "tone" and record["label"] == "neutral" and record["article_id"] == "a1"


def test_web_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    _, env = _config(tmp_path)
    result = runner.invoke(app, ["web"], env={**env, "HAIDANG_LINK_SECRET": ""})
    assert result.exit_code == 2 and "HAIDANG_LINK_SECRET" in result.output


def _no_serving(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """uvicorn.Server.run replaced by a note that it was called, so `haidang web` returns instead of serving."""
    started: list[str] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, *a, **kw: started.append(self.config.host))
    return started


def test_web_refuses_to_start_without_a_store_and_creates_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong data folder used to start the app, which created an empty store on the first request
    and showed empty pages; now it is `haidang status`'s message and exit 2."""
    started = _no_serving(monkeypatch)
    _, env = _config(tmp_path)
    result = runner.invoke(app, ["web"], env={**env, "HAIDANG_LINK_SECRET": SECRET})
    assert result.exit_code == 2 and started == []
    assert "no store at" in result.output and str(tmp_path / "data") in result.output
    assert not (tmp_path / "data").exists()
    status = runner.invoke(app, ["status"], env=env)
    assert status.exit_code == 2 and "no store at" in status.output


def test_web_starts_on_an_existing_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = _no_serving(monkeypatch)
    folder, env = _config(tmp_path)
    open_store(load_settings(folder, environ=env).app.store).close()
    result = runner.invoke(app, ["web", "--host", "127.0.0.2"], env={**env, "HAIDANG_LINK_SECRET": SECRET})
    assert result.exit_code == 0, result.output
    assert started == ["127.0.0.2"]


def test_the_web_app_of_haidang_web_never_creates_a_store(tmp_path: Path) -> None:
    """The store vanishing under a running `haidang web` (a data folder moved) gives the error page,
    not a new empty store."""
    folder, env = _config(tmp_path)
    settings = load_settings(folder, environ=env)
    server = build_server(settings, SECRET, create=False)
    with TestClient(server.config.app, raise_server_exceptions=False) as client:
        page = client.get("/dang-nhap")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        login = client.post("/dang-nhap", data={"csrf": csrf.group(1), "username": "x", "password": "y"})
    assert login.status_code == 500 and "<html" in login.text
    assert not (tmp_path / "data").exists()


def test_bad_users_and_web_config_name_file_line_and_field(tmp_path: Path) -> None:
    from haidang.errors import ConfigError

    folder, env = _config(tmp_path)
    (folder / "users.yaml").write_text("users:\n  - name: canbo\n    role: sep\n    password_hash: x\n",
                                       encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(folder, environ=env)
    text = str(caught.value)
    assert "users.yaml:3: users.0.role" in text and "users.yaml:4: users.0.password_hash" in text
    (folder / "users.yaml").write_text("users: []\n", encoding="utf-8")
    app_yaml = folder / "haidang.yaml"
    app_yaml.write_text(app_yaml.read_text(encoding="utf-8").replace(
        "base_url: http://127.0.0.1:8470", "base_url: 127.0.0.1:8470"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"haidang.yaml:\d+: web.base_url"):
        load_settings(folder, environ=env)
