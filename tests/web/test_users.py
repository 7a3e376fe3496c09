"""config/users.yaml changed while the app runs: `haidang users add` and hand edits take effect on the
next request (a changed password ends its sessions at once), and a broken file keeps the old users."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from haidang.cli import app as cli
from haidang.settings import DEFAULT_CONFIG_DIR, User, load_settings
from haidang.web import create_app

from .conftest import PASSWORDS, SECRET, WebKit
from .test_app_security import _login_as

NEW_PASSWORD = "mat-khau-moi-xem-99"


def _write_users(path: Path, users: list[User]) -> None:
    """As `haidang users add` writes it: a whole new file moved into place."""
    lines = ["users:"]
    for u in users:
        lines += [f"- name: {u.name}", f"  role: {u.role}", f"  password_hash: '{u.password_hash}'"]
    tmp = path.with_suffix(".yaml.partial")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@pytest.fixture
def running(kit: WebKit, tmp_path: Path) -> tuple[TestClient, Path]:
    """The app on a config folder of its own whose users.yaml holds the kit's three users."""
    folder = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    _write_users(folder / "users.yaml", kit.settings.users)
    settings = load_settings(folder, environ={"HAIDANG_HOME": kit.settings.app.store.data_dir})
    web = create_app(settings, kit.open, SECRET, now=kit.clock)
    with TestClient(web, base_url="http://testserver") as client:
        yield client, folder


def test_users_add_changes_a_password_while_the_app_runs(running: tuple[TestClient, Path]) -> None:
    client, folder = running
    assert _login_as(client, "xem", PASSWORDS["xem"]) == 303
    assert client.get("/tim-kiem", follow_redirects=False).status_code == 200
    env = {"HAIDANG_CONFIG": str(folder), "HAIDANG_HOME": str(folder.parent / "data")}
    result = CliRunner().invoke(cli, ["users", "add", "xem", "--role", "viewer"], env=env,
                                input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    # The session of the old password ends at once, and the old password no longer logs in.
    assert client.get("/tim-kiem", follow_redirects=False).status_code == 303
    assert _login_as(client, "xem", PASSWORDS["xem"]) == 401
    assert _login_as(client, "xem", NEW_PASSWORD) == 303
    assert client.get("/tim-kiem", follow_redirects=False).status_code == 200


def test_an_edited_role_and_a_removed_user_take_effect_at_once(running: tuple[TestClient, Path]) -> None:
    client, folder = running
    assert _login_as(client, "canbo", PASSWORDS["canbo"]) == 303
    assert client.get("/bao-cao", follow_redirects=False).status_code == 200
    users = load_settings(folder, environ={}).users
    _write_users(folder / "users.yaml", [u.model_copy(update={"role": "viewer"}) if u.name == "canbo" else u
                                         for u in users])
    assert client.get("/bao-cao", follow_redirects=False).status_code == 303      # demoted: session ended
    assert _login_as(client, "canbo", PASSWORDS["canbo"]) == 303
    assert client.get("/bao-cao", follow_redirects=False).status_code == 403      # a viewer now
    _write_users(folder / "users.yaml", [u for u in users if u.name != "canbo"])
    assert client.get("/tim-kiem", follow_redirects=False).status_code == 303
    assert _login_as(client, "canbo", PASSWORDS["canbo"]) == 401


def test_a_broken_users_file_keeps_the_previous_users_and_says_why(
        running: tuple[TestClient, Path], caplog: pytest.LogCaptureFixture) -> None:
    client, folder = running
    assert _login_as(client, "xem", PASSWORDS["xem"]) == 303
    path = folder / "users.yaml"
    good = path.read_text(encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="haidang.web.users"):
        path.write_text(good.replace("role: viewer", "role: chief") + "# half saved\n", encoding="utf-8")
        assert client.get("/tim-kiem", follow_redirects=False).status_code == 200
        with TestClient(client.app, base_url="http://testserver") as other:
            assert _login_as(other, "quantri", PASSWORDS["quantri"]) == 303
            admin = other.cookies["hd_session"]
    [record] = [r for r in caplog.records if r.name == "haidang.web.users"]
    assert str(path) in record.getMessage() and "keeps its previous users" in record.getMessage()
    assert "users.0.role" in record.getMessage()         # the validation's own file:line: field message
    # The next good save is read.
    path.write_text(good.replace("name: quantri", "name: quantri2"), encoding="utf-8")
    with TestClient(client.app, base_url="http://testserver", cookies={"hd_session": admin}) as other:
        assert other.get("/tim-kiem", follow_redirects=False).status_code == 303     # quantri is gone
        assert _login_as(other, "quantri2", PASSWORDS["quantri"]) == 303
