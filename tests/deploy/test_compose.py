"""docker-compose.yml and the Dockerfile, checked without a container engine (none runs here).

These tests read the files; they do not start the stack. What they guard: the services and their
order, health checks, Elasticsearch 8 (the client is pinned below 9), secrets only from .env (which
git ignores), and the inline config/haidang.yaml passing the same validation as any config folder.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from ruamel.yaml import YAML

from haidang.settings import DEFAULT_CONFIG_DIR, load_settings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_services_start_in_order_with_health_checks() -> None:
    services = _compose()["services"]
    assert {"elasticsearch", "kibana", "mailpit", "haidang-setup", "haidang"} <= set(services)
    for name in ("elasticsearch", "kibana", "mailpit", "haidang"):
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert services["haidang"]["command"] == ["haidang", "serve"]
    assert services["haidang"]["depends_on"]["haidang-setup"]["condition"] == "service_completed_successfully"
    assert services["haidang-setup"]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    for name in ("elasticsearch", "kibana"):
        version = re.search(r":\$\{STACK_VERSION:-(\d+)\.", services[name]["image"])
        assert version and version.group(1) == "8", "docker-compose must stay on Elasticsearch 8 (client < 9)"
    published = [p for s in services.values() for p in s.get("ports") or []]
    assert published and all(str(p).startswith("127.0.0.1:") for p in published), "ports only on loopback"


def test_secrets_come_from_an_ignored_env_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "ELASTIC_PASSWORD" in text and "${ELASTIC_PASSWORD" in text
    assert not re.search(r"ELASTIC_PASSWORD:\s*[\"']?[A-Za-z0-9]{6,}", text), "a password is written in the file"
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and (ROOT / ".env.example").exists()


def test_the_inline_config_is_valid(tmp_path: Path) -> None:
    content = _compose()["configs"]["haidang_yaml"]["content"]
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    (config / "haidang.yaml").write_text(content, encoding="utf-8")
    settings = load_settings(config, environ={})
    assert settings.app.store.backend == "elasticsearch" and settings.app.smtp is not None
    assert settings.app.web.host == "0.0.0.0" and settings.app.store.kibana_url


def test_the_image_runs_the_service_as_a_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11", dockerfile, re.MULTILINE)
    assert re.search(r"^USER \w+", dockerfile, re.MULTILINE) and 'CMD ["haidang", "serve"]' in dockerfile
    assert ".env" in (ROOT / ".dockerignore").read_text(encoding="utf-8")
