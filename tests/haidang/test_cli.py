"""The command line: arguments through typer's CliRunner, and one end-to-end run of the installed command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from haidang.cli import app
from haidang.service import run_once
from haidang.settings import load_settings

runner = CliRunner()


@pytest.fixture()
def filled(demo_config: Path) -> Path:
    settings = load_settings(demo_config, environ={})
    run_once(settings, settings.sources)
    return demo_config


def test_search_without_diacritics_highlights(filled: Path):
    result = runner.invoke(app, ["search", "--config", str(filled), "ly son", "--json"])
    assert result.exit_code == 0, result.output
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert hits
    assert all({"id", "title", "source", "published", "score", "snippet"} <= set(h) for h in hits)
    assert any("«Lý Sơn»" in h["snippet"] for h in hits)


def test_search_filters(filled: Path):
    result = runner.invoke(app, ["search", "-c", str(filled), "quang ngai", "--json", "--source", "foreign-en",
                                 "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert {json.loads(line)["source"] for line in result.stdout.splitlines()} <= {"foreign-en"}
    future = runner.invoke(app, ["search", "-c", str(filled), "quang ngai", "--json", "--since", "2099-01-01"])
    assert future.exit_code == 0 and future.stdout.strip() == ""
    bad = runner.invoke(app, ["search", "-c", str(filled), "quang ngai", "--since", "yesterday-ish"])
    assert bad.exit_code != 0


def test_bad_query_is_a_clear_error(filled: Path):
    result = runner.invoke(app, ["search", "-c", str(filled), '-"'])
    assert result.exit_code == 2
    assert "query" in result.output.lower()


def test_status_lists_every_source(filled: Path):
    result = runner.invoke(app, ["status", "-c", str(filled)])
    assert result.exit_code == 0, result.output
    for sid in ("vnexpress", "baoquangngai", "quangngai-gov", "youtube-qtv"):
        assert sid in result.output


def test_export_and_backup(filled: Path, tmp_path: Path):
    out = tmp_path / "all.jsonl"
    result = runner.invoke(app, ["export", "-c", str(filled), "--format", "jsonl", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows and all(r["id"] and r["fetched"]["canonical_url"] for r in rows)
    copy = tmp_path / "copy.sqlite3"
    assert runner.invoke(app, ["backup", str(copy), "-c", str(filled)]).exit_code == 0
    assert copy.stat().st_size > 0


def test_analyze_reads_stdin_and_keeps_going(tmp_path: Path):
    lines = "\n".join([
        json.dumps({"id": "a", "text": "Sáng nay, tỉnh Quảng Ngãi khai mạc lễ hội."}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "b", "text": "Vùng Đồng Tháp Mười vào mùa nước nổi.", "province": "Tiền Giang"},
                   ensure_ascii=False),
    ])
    result = runner.invoke(app, ["analyze", "-"], input=lines)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["a", None, "b"]
    assert out[0]["relevant"] is True and out[0]["matches"][0]["province_code"] == "51"
    assert "error" in out[1]
    assert out[2]["relevant"] is False   # target Tiền Giang -> Đồng Tháp (82); the region is not the province


def test_analyze_answers_lines_python_reads_but_json_cannot_write():
    """A lone surrogate escape used to end the run at the write (every later line lost); NaN and a
    number too large for a float came back as bare NaN/Infinity, which no JSON reader accepts."""
    lines = "\n".join(['{"id": "s", "text": "Tỉnh Quảng Ngãi \\ud800 khai mạc lễ hội."}',
                       '{"id": "n", "text": "Quảng Ngãi", "score": NaN}',
                       '{"id": "i", "text": "Quảng Ngãi", "score": 1e999999}',
                       json.dumps({"id": "ok", "text": "Sáng nay, tỉnh Quảng Ngãi khai mạc lễ hội."}, ensure_ascii=False)])
    result = runner.invoke(app, ["analyze", "-"], input=lines)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["s", None, None, "ok"]
    assert out[0]["text"] == "Tỉnh Quảng Ngãi \ud800 khai mạc lễ hội." and out[0]["relevant"] is True
    assert "NaN is not a JSON number" in out[1]["error"] and "too large" in out[2]["error"]
    for line in result.stdout.splitlines():           # strict JSON: no bare NaN/Infinity anywhere
        json.loads(line, parse_constant=lambda name: pytest.fail(f"bare {name} in the output"))


def test_analyze_checks_stated_engagement():
    lines = "\n".join(json.dumps({"id": i, "text": "Người dân Quảng Ngãi chia sẻ bài viết về lễ hội.",
                                   "engagement": e}, ensure_ascii=False)
                      for i, e in enumerate([{"likes": 12, "shares": 3}, {"likes": -1}, {"views": 5}, "nhiều"]))
    result = runner.invoke(app, ["analyze", "-"], input=lines)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert "error" not in out[0] and out[0]["engagement"] == {"likes": 12, "shares": 3}
    for bad in out[1:]:
        assert "`engagement` must map likes, comments, shares" in bad["error"]
        assert bad["labels"]["risk"]["level"]          # still labelled from the text


def test_config_check_reports_file_and_line(tmp_path: Path):
    (tmp_path / "haidang.yaml").write_text("province: Quảng Ngãi\ncrawl:\n  retry_times: many\n", encoding="utf-8")
    result = runner.invoke(app, ["config", "check", "-c", str(tmp_path)])
    assert result.exit_code == 1
    assert "haidang.yaml:3: crawl.retry_times" in result.output
    from_env = runner.invoke(app, ["config", "check"], env={"HAIDANG_CONFIG": str(tmp_path)})   # as `run` reads it
    assert from_env.exit_code == 1 and "crawl.retry_times" in from_env.output


@pytest.mark.slow
def test_installed_command_runs_the_demo(tmp_path: Path):
    exe = Path(sys.executable).parent / "haidang"
    exe_path = str(exe) if exe.exists() else shutil.which("haidang")
    assert exe_path, "the haidang command is not installed (pip install -e .)"
    data = tmp_path / "data"
    done = subprocess.run([exe_path, "demo", "--data", str(data)], check=False, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"data: {data}" in done.stdout
    assert "ly son" in done.stdout
    assert (data / "haidang.sqlite3").exists()


@pytest.mark.slow
def test_demo_with_a_short_link_secret_says_so_and_runs_without_links(tmp_path: Path):
    """The README's demo command with a secret too short to sign with (other commands refuse it): the
    demo still runs, offline, and says once, in the words of those commands, why its emails carry
    no action links; no traceback."""
    import os

    exe = Path(sys.executable).parent / "haidang"
    exe_path = str(exe) if exe.exists() else shutil.which("haidang")
    assert exe_path, "the haidang command is not installed (pip install -e .)"
    data = tmp_path / "data"
    env = {**os.environ, "HAIDANG_LINK_SECRET": "ngan-qua"}
    done = subprocess.run([exe_path, "demo", "--data", str(data)], check=False, capture_output=True, text=True,
                          timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    said = [line for line in done.stderr.splitlines() if "HAIDANG_LINK_SECRET" in line]
    assert said == [("HAIDANG_LINK_SECRET: the link secret has 8 characters; use at least 32 random ones (e.g. the "
                     "output of: python -c \"import secrets; print(secrets.token_urlsafe(32))\"), or unset "
                     "HAIDANG_LINK_SECRET to run without signed links and the web app; the demo goes on without "
                     "signed links")], done.stderr
    emails = list((data / "outbox-eml").glob("*.eml"))
    assert emails and not any("/xu-ly/" in e.read_text(encoding="utf-8") for e in emails)
    assert "set HAIDANG_LINK_SECRET to 32+ random characters (it has 8)" in done.stdout
    assert "haidang web --config" not in done.stdout
    # The same variable still stops a command that would sign with it, in the same words.
    refused = subprocess.run([exe_path, "status"], check=False, capture_output=True, text=True, timeout=60,
                             env=env)
    assert refused.returncode == 2 and "the link secret has 8 characters" in refused.stderr


def test_sources_check_reports_reachability_robots_and_a_sample(demo_config: Path, fixture_site: str):
    extra = (
        "  - id: denied\n    name: Denied\n    country: VN\n    language: vi\n    kind: national_press\n"
        f"    local: true\n    feeds: ['{fixture_site}/faults/robots-denied/feed.rss']\n"
    )
    sources = demo_config / "sources.yaml"
    sources.write_text(sources.read_text(encoding="utf-8") + extra, encoding="utf-8")
    result = runner.invoke(app, ["sources", "check", "-c", str(demo_config), "-s", "baoquangngai", "-s", "denied"])
    assert result.exit_code == 1, result.output         # robots.txt forbids one: it cannot be collected
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") >= 4}
    assert "yes" in rows["baoquangngai"] and "allowed" in rows["baoquangngai"]
    assert "disallowed" in rows["denied"]
    assert result.output.splitlines()[-1] == "1 of 2 source(s) failed the check: denied"
    good = runner.invoke(app, ["sources", "check", "-c", str(demo_config), "-s", "baoquangngai"])
    assert good.exit_code == 0, good.output
    assert good.output.splitlines()[-1] == "0 of 1 source(s) failed the check"


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:                      # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sources_check_exits_1_when_every_source_is_unreachable(demo_config: Path):
    """It used to print "no" for each and exit 0, so a deploy check passed on a machine offline."""
    port = _closed_port()
    extra = "".join(
        f"  - id: {sid}\n    name: {sid}\n    country: VN\n    language: vi\n    kind: national_press\n"
        f"    local: true\n    feeds: ['http://127.0.0.1:{port}/{sid}.rss']\n" for sid in ("dead-a", "dead-b"))
    sources = demo_config / "sources.yaml"
    sources.write_text(sources.read_text(encoding="utf-8") + extra, encoding="utf-8")
    result = runner.invoke(app, ["sources", "check", "-c", str(demo_config), "-s", "dead-a", "-s", "dead-b"])
    assert result.exit_code == 1, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") >= 4}
    assert rows.keys() >= {"dead-a", "dead-b"} and all("│ no" in rows[sid] for sid in ("dead-a", "dead-b"))
    assert result.output.splitlines()[-1] == "2 of 2 source(s) failed the check: dead-a, dead-b"
    none = runner.invoke(app, ["sources", "check", "-c", str(demo_config), "-s", "khong-co"])
    assert none.exit_code == 1 and "no sources match" in none.output


# Every command that only reads the store, with what it needs besides; {tmp} is the test's folder.
READ_ONLY_COMMANDS = [
    ["status"], ["search", "ly son"], ["explain", "abc"], ["correction", "abc", "--to", "{tmp}/x.docx"],
    ["outbox", "list"], ["claims", "list"], ["audit"], ["export"], ["backup", "{tmp}/copy.sqlite3"],
    ["evidence", "abc"], ["digest"], ["report", "--from", "2026-03-01", "--to", "2026-03-31"],
    ["alerts", "test", "tin-sai-su-that-rui-ro-cao"], ["feedback", "export"],
    # They write, but only to what must already be stored: a message, a claim, the store to copy.
    ["outbox", "retry", "k1"], ["claims", "confirm", "c1"], ["claims", "dismiss", "c1"],
    ["migrate", "--to", "elasticsearch", "--url", "http://127.0.0.1:9"],
]


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=[" ".join(c[:2]) for c in READ_ONLY_COMMANDS])
def test_read_only_commands_create_no_store(command: list[str], demo_config: Path, tmp_path: Path):
    """A wrong --config or HAIDANG_HOME used to get a new empty store and empty answers, exit 0."""
    data = tmp_path / "wrong" / "data"
    args = [part.replace("{tmp}", str(tmp_path)) for part in command]
    result = runner.invoke(app, [*args, "-c", str(demo_config)], env={"HAIDANG_HOME": str(data)})
    assert result.exit_code == 2, result.output
    assert f"error: no store at {data / 'haidang.sqlite3'} yet: run `haidang run`" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "wrong").exists() and not list(tmp_path.glob("*.docx")) and not list(tmp_path.glob("*.sqlite3"))


def test_commands_that_write_still_create_the_store(demo_config: Path, tmp_path: Path):
    data = tmp_path / "new" / "data"
    result = runner.invoke(app, ["claims", "add", "Đập thủy điện ở Quảng Ngãi đã bị vỡ trong đêm qua",
                                 "--rebuttal-url", "https://quangngai.gov.vn/bac-bo", "-c", str(demo_config)],
                           env={"HAIDANG_HOME": str(data)})
    assert result.exit_code == 0, result.output
    assert (data / "haidang.sqlite3").is_file()
    listed = runner.invoke(app, ["claims", "list", "--status", "confirmed", "-c", str(demo_config)],
                           env={"HAIDANG_HOME": str(data)})
    assert listed.exit_code == 0 and listed.output.strip().endswith("1 claim(s) confirmed")


def test_explain_and_enrich(filled: Path):
    search = runner.invoke(app, ["search", "-c", str(filled), "Dung Quat", "--json", "--limit", "1"])
    hit = json.loads(search.stdout.splitlines()[0])
    by_id = runner.invoke(app, ["explain", hit["id"], "-c", str(filled)])
    assert by_id.exit_code == 0, by_id.output
    assert "risk" in by_id.output and "tone" in by_id.output
    tracked = hit["url"] + ("&" if "?" in hit["url"] else "?") + "utm_source=zalo"
    by_url = runner.invoke(app, ["explain", tracked, "-c", str(filled), "--json"])
    assert by_url.exit_code == 0 and json.loads(by_url.stdout)["id"] == hit["id"]
    assert runner.invoke(app, ["explain", "nope", "-c", str(filled)]).exit_code == 1
    again = runner.invoke(app, ["enrich", "--all", "-c", str(filled)])
    assert again.exit_code == 0 and "articles read" in again.output


def test_explain_shows_stated_engagement():
    from rich.console import Console

    from haidang.explain import render_explanation
    from haidang.record import Article, Content, Fetched

    article = Article(fetched=Fetched(source_id="fb-page", url="https://example.vn/p/1"),
                      content=Content(title="Bài đăng", engagement={"likes": 1520, "comments": 87}))
    out = Console(record=True, width=200)
    render_explanation(out, article, "Asia/Ho_Chi_Minh")
    assert "Lượt tương tác (khi thu thập): 1.520 lượt thích · 87 bình luận" in out.export_text()


def test_explain_speaks_the_words_of_the_emails():
    """Names, not ids: the section, topics, tone and risk signals as the emails and digest say them."""
    from datetime import UTC, datetime

    from rich.console import Console

    from haidang.explain import render_explanation
    from haidang.record import Article, Content, Fetched

    labels = {"section": {"label": "kinh_doanh", "score": 0.67},
              "topics": [{"id": "dau_tu_thuong_mai", "score": 0.8125, "evidence": ["xúc tiến đầu tư"]}],
              "tone": {"label": "neutral", "score": 0.5, "evidence": [], "scope": "whole-text"},
              "risk": {"score": 0.13, "level": "thấp", "reasons": [
                  {"signal": "source_kind", "evidence": ["nguồn: x"], "weight": -0.6}]}}
    article = Article(fetched=Fetched(source_id="baoqn", url="https://example.vn/p/1"), labels=labels,
                      content=Content(title="Hội nghị", language="vi", published=datetime(2023, 3, 28, 1, 26, tzinfo=UTC)))
    out = Console(record=True, width=200)
    render_explanation(out, article, "Asia/Ho_Chi_Minh", topic_names={"dau_tu_thuong_mai": "Đầu tư, thương mại"},
                       source_name="Báo Quảng Ngãi")
    text = out.export_text()
    for expected in ("Báo Quảng Ngãi (baoqn) · Thứ ba, 28/03/2023 08:26", "ngôn ngữ: tiếng Việt",
                     "Chuyên mục (section): kinh doanh kinh_doanh (0,67)", "Đầu tư, thương mại dau_tu_thuong_mai (0,81)",
                     "Sắc thái (tone): trung tính (0,50, toàn bài)", "Loại nguồn (source_kind) (-0,60)"):
        assert expected in text, (expected, text)
    article.labels = {**labels, "topics": []}
    out = Console(record=True, width=200)
    render_explanation(out, article, "Asia/Ho_Chi_Minh")
    assert "Chủ đề kế hoạch (plan topics): chưa xác định chủ đề" in out.export_text()


def test_run_exits_1_when_no_source_can_be_read(demo_config: Path):
    """An offline machine: one warning line per failure (no tracebacks), a clear summary, exit 1."""
    import socket

    with socket.socket() as sock:                      # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    extra = ("  - id: dead\n    name: Dead\n    country: VN\n    language: vi\n    kind: national_press\n"
             f"    local: true\n    feeds: ['http://127.0.0.1:{port}/feed.rss']\n")
    sources = demo_config / "sources.yaml"
    sources.write_text(sources.read_text(encoding="utf-8") + extra, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "haidang", "run", "-c", str(demo_config), "-s", "dead"],
                            check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no source could be read" in result.stderr and "Traceback" not in result.stderr
    partly = subprocess.run([sys.executable, "-m", "haidang", "run", "-c", str(demo_config), "-s", "dead",
                             "-s", "baoquangngai"], check=False, capture_output=True, text=True, timeout=120)
    assert partly.returncode == 0, partly.stdout + partly.stderr


def test_analyze_refuses_a_misspelt_province_at_once():
    """Not one error line per input line and exit 0: the option is wrong, so the command says so."""
    result = runner.invoke(app, ["analyze", "-", "--province", "Dong Thapp"], input='{"text": "x"}\n')
    assert result.exit_code == 2
    assert "did you mean Đồng Tháp" in " ".join(result.output.replace("│", " ").split())
    line = json.dumps({"text": "Tin ở Quảng Ngãi.", "province": "87"})
    out = json.loads(runner.invoke(app, ["analyze", "-"], input=line).stdout)
    assert out["error"].startswith("line 1: unknown province '87'") and out["error"].count("unknown province") == 1


def test_users_add_records_a_known_agency_and_refuses_an_unknown_one(tmp_path: Path):
    import shutil

    from haidang.settings import DEFAULT_CONFIG_DIR, ConfigError
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    (config / "users.yaml").unlink(missing_ok=True)
    secret = "mat-khau-dai-du\n" * 2
    bad = runner.invoke(app, ["users", "add", "canbo", "--role", "officer", "--agency", "cong-an",
                              "--config", str(config)], input=secret)
    assert bad.exit_code == 2 and not (config / "users.yaml").exists()
    ok = runner.invoke(app, ["users", "add", "canbo", "--role", "officer", "--agency", "cong-an-tinh",
                             "--config", str(config)], input=secret)
    assert ok.exit_code == 0, ok.output
    [user] = load_settings(config).users
    assert user.agency == "cong-an-tinh"
    text = (config / "users.yaml").read_text(encoding="utf-8").replace("cong-an-tinh", "cong-an")
    (config / "users.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown agency id 'cong-an' for user 'canbo'"):
        load_settings(config)


@pytest.mark.parametrize("command", [["index", "setup"], ["migrate", "--to", "elasticsearch"]])
def test_elasticsearch_commands_without_a_url_say_what_to_give(command: list[str], monkeypatch, tmp_path: Path):
    """On the shipped SQLite config these used to say "store.backend is elasticsearch but no URL is set"."""
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    monkeypatch.setenv("HAIDANG_HOME", str(tmp_path))
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert "no Elasticsearch URL: pass --url" in " ".join(result.stderr.split())
    assert "the configured store is sqlite" in " ".join(result.stderr.split())
