"""Broken and hostile configuration through the real commands: `config check` (exit 1), `run` and
`status` (exit 2) on a copy of config/ with one thing broken. Each must name the file, the line
where there is one, and the field, print no traceback, and finish in bounded time and memory.

The cases that could hang or fill memory (an alias bomb, a 100 MB file, a named pipe, hundreds
of problems) run `python -m haidang` in a child process with a time and an address-space limit,
so a regression fails its test instead of holding the test run."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from haidang.cli import app
from haidang.settings import DEFAULT_CONFIG_DIR, MAX_FILE_BYTES, check_config_dir, load_settings

runner = CliRunner()

LIMIT_S = 120                   # a hang guard for the child process, not a speed requirement
LIMIT_AS = 4 * 1024 ** 3        # address space of the child: a command that expands a bomb dies at this


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, folder)
    return folder


def _env(tmp: Path) -> dict[str, str | None]:
    """No HAIDANG_* variable of the machine running the tests; the data folder in tmp."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("HAIDANG_") or k == "ELASTICSEARCH_URL"}
    return {**unset, "HAIDANG_HOME": str(tmp / "data")}


def _flat(text: str) -> str:
    """One line, as `run` and `config check` say it: rich wraps at 140 columns, and `config check`
    writes file:?: where a problem has no line."""
    return " ".join(text.split()).replace(":?: ", ": ")


def _refused(config: Path, where: str, field: str, words: str) -> None:
    """`config check` exits 1, `run` and `status` exit 2, each naming `where` (file or file:line),
    `field` (when the problem has one) and `words`, with no traceback."""
    for command, code in ((["config", "check"], 1), (["run"], 2), (["status"], 2)):
        result = runner.invoke(app, [*command, "-c", str(config)], env=_env(config.parent))
        output = _flat(result.output)
        assert result.exit_code == code, (command, result.output, result.exception)
        assert isinstance(result.exception, SystemExit), (command, result.exception)
        assert "Traceback" not in result.output
        assert f"{config / where}:" in output, (command, output)
        if field:
            assert f": {field}: " in output, (command, output)
        assert words in output, (command, output)


def _child(*args: str, env: dict[str, str] | None = None,
           prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """The installed command in a child process, limited in time and address space."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))

    base = {k: v for k, v in os.environ.items() if not k.startswith("HAIDANG_") and k != "ELASTICSEARCH_URL"}
    return subprocess.run([*prefix, sys.executable, "-m", "haidang", *args], capture_output=True, text=True,
                          timeout=LIMIT_S, preexec_fn=limit, env={**base, "COLUMNS": "1000", **(env or {})},
                          check=False)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} no longer holds {old!r}: update the test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


# -- size, time and memory --------------------------------------------------------------------------

def test_an_alias_bomb_is_refused_without_being_expanded(config: Path) -> None:
    """Ten lines of anchors, each repeating the one before nine times: 9**10 values once expanded."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    (config / "haidang.yaml").write_text("\n".join([*lines, "province: *a9", ""]), encoding="utf-8")
    for command, code in ((["config", "check"], 1), (["run"], 2)):
        done = _child(*command, "-c", str(config), env={"HAIDANG_HOME": str(config.parent / "data")})
        assert done.returncode == code, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        assert f"{config / 'haidang.yaml'}:" in _flat(done.stderr) and "aliases" in _flat(done.stderr), done.stderr


def test_a_100_mb_file_is_refused_before_it_is_parsed(config: Path) -> None:
    path = config / "haidang.yaml"
    comment = ("#" + "x" * 1023 + "\n") * 1024           # 1 MiB of comment lines: valid YAML, slow to parse
    with path.open("a", encoding="utf-8") as f:
        for _ in range(100):
            f.write(comment)
    done = _child("config", "check", "-c", str(config))
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert f"{path}:" in _flat(done.stderr) and f"at most {MAX_FILE_BYTES:,}" in _flat(done.stderr), done.stderr


def test_a_named_pipe_in_place_of_a_file_is_refused_not_waited_on(config: Path) -> None:
    """Opening a pipe blocks until something writes to it: the command would wait forever."""
    (config / "sources.yaml").unlink()
    os.mkfifo(config / "sources.yaml")
    for command, code in ((["config", "check"], 1), (["run"], 2)):
        done = _child(*command, "-c", str(config), env={"HAIDANG_HOME": str(config.parent / "data")})
        assert done.returncode == code, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        assert f"{config / 'sources.yaml'}: " in _flat(done.stderr) and "not a regular file" in _flat(done.stderr), done.stderr


def test_hundreds_of_problems_in_one_file_are_found_in_one_pass(config: Path) -> None:
    """Each problem's line is looked up in its file: that must not parse the file once per problem.
    And each is printed as it is: rich read "alerts.yaml:100: rules" as the emoji code :100:."""
    path = config / "alerts.yaml"
    rules = "".join(f"  - {{name: r{i}, topics: [nope{i}], severity: cao, recipients: [nobody{i}]}}\n"
                    for i in range(400))
    _replace(path, "rules:\n", "rules:\n" + rules)
    done = _child("config", "check", "-c", str(config))
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert done.stderr.count(f"{path}:") == 800, done.stderr[-2000:]
    assert f"{path}:{_line(path, 'name: r399,')}: rules.399.recipients.0: rule 'r399': unknown agency" in done.stderr


# -- what the bytes are -------------------------------------------------------------------------------

def test_nesting_hundreds_of_levels_deep_is_an_error_not_a_crash(config: Path) -> None:
    (config / "haidang.yaml").write_text("province: " + "[" * 400 + "]" * 400 + "\n", encoding="utf-8")
    _refused(config, "haidang.yaml", "", "nested hundreds of levels deep")


def test_nesting_past_the_limit_names_its_line(config: Path) -> None:
    (config / "haidang.yaml").write_text("crawl:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(60)),
                                         encoding="utf-8")
    _refused(config, "haidang.yaml:51", "crawl.k0.k1.…", "nested more than 50 levels deep")


def test_a_file_saved_as_utf16_is_named_as_such(config: Path) -> None:
    path = config / "haidang.yaml"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))     # Notepad's "Unicode"
    _refused(config, "haidang.yaml:1", "", "is saved as UTF-16: save it as UTF-8")


def test_bytes_that_are_not_utf8_are_named_by_line(config: Path) -> None:
    path = config / "haidang.yaml"
    line = _line(path, "province: Quảng Ngãi")
    legacy = unicodedata.normalize("NFD", "Quảng Ngãi").encode("cp1258")      # Windows' Vietnamese code page
    path.write_bytes(path.read_bytes().replace("Quảng Ngãi".encode(), legacy, 1))
    _refused(config, f"haidang.yaml:{line}", "", "is not UTF-8 text")


def test_a_byte_order_mark_and_decomposed_vietnamese_are_read(config: Path) -> None:
    for name in ("haidang.yaml", "alerts.yaml"):
        path = config / name
        path.write_text(unicodedata.normalize("NFD", path.read_text(encoding="utf-8")), encoding="utf-8-sig")
    assert check_config_dir(config) == []
    assert load_settings(config, environ={}).app.province == "Quảng Ngãi"


@pytest.mark.parametrize(("name", "field"), [("sources.yaml", "sources"), ("alerts.yaml", "rules"),
                                             ("agencies.yaml", "agencies"), ("landmarks.yaml", "landmarks"),
                                             ("topics.yaml", "topics")])
def test_an_empty_file_is_named_empty(config: Path, name: str, field: str) -> None:
    (config / name).write_text("", encoding="utf-8")
    _refused(config, name, field, "Field required (the file is empty)")


# -- what the file is -----------------------------------------------------------------------------------

def test_a_folder_where_a_file_should_be(config: Path) -> None:
    (config / "sources.yaml").unlink()
    (config / "sources.yaml").mkdir()
    _refused(config, "sources.yaml", "", "is a folder, not a file")


def test_symbolic_links_in_a_loop(config: Path) -> None:
    """Path.exists() says False for these: the commands went on without any source."""
    (config / "sources.yaml").unlink()
    (config / "sources.yaml").symlink_to("other.yaml")
    (config / "other.yaml").symlink_to("sources.yaml")
    _refused(config, "sources.yaml", "", "symbolic links that point at each other")


def test_a_symbolic_link_to_nothing(config: Path) -> None:
    """Before, `run` went on with no alert rules at all: every flag silently lost."""
    (config / "alerts.yaml").unlink()
    (config / "alerts.yaml").symlink_to(config.parent / "gone.yaml")
    _refused(config, "alerts.yaml", "", "a symbolic link to a file that is not there")


def _without_root_powers(tmp: Path) -> tuple[str, ...]:
    """How to run a child that permissions bind: as it is, or (as root, which reads anything) with
    the two capabilities that let it dropped. Skips where neither works."""
    if os.geteuid() != 0:
        return ()
    prefix = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search")
    probe = tmp / "probe"
    probe.write_text("x", encoding="utf-8")
    probe.chmod(0)
    if not shutil.which("setpriv") or subprocess.run([*prefix, "cat", str(probe)], capture_output=True,
                                                     check=False).returncode == 0:
        pytest.skip("running as root, and setpriv cannot drop root's right to read any file")
    return prefix


def test_a_file_the_user_may_not_read(config: Path) -> None:
    prefix = _without_root_powers(config.parent)
    (config / "alerts.yaml").chmod(0)
    for command, code in ((["config", "check"], 1), (["status"], 2)):
        done = _child(*command, "-c", str(config), env={"HAIDANG_HOME": str(config.parent / "data")}, prefix=prefix)
        assert done.returncode == code, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        assert f"{config / 'alerts.yaml'}: cannot read it: Permission denied" in _flat(done.stderr), done.stderr


def test_a_config_folder_the_user_may_not_list(config: Path) -> None:
    """Every file read as absent: `config check` said OK and the commands ran on defaults."""
    prefix = _without_root_powers(config.parent)
    config.chmod(0)
    try:
        for command, code in ((["config", "check"], 1), (["status"], 2)):
            done = _child(*command, env={"HAIDANG_CONFIG": str(config), "HAIDANG_HOME": str(config.parent / "data")},
                          prefix=prefix)
            assert done.returncode == code, done.stderr[-2000:]
            assert f"{config}: cannot read this folder" in _flat(done.stderr), done.stderr
    finally:
        config.chmod(0o755)


def test_a_folder_with_no_configuration_file(tmp_path: Path) -> None:
    """A --config that names the wrong (existing) folder: before, `config check` said OK."""
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "README.txt").write_text("not config", encoding="utf-8")
    result = runner.invoke(app, ["config", "check", "-c", str(folder)], env=_env(tmp_path))
    assert result.exit_code == 1, result.output
    assert "holds none of the configuration files" in _flat(result.output)
    result = runner.invoke(app, ["status", "-c", str(folder)], env=_env(tmp_path))
    assert result.exit_code == 2 and "holds none of the configuration files" in _flat(result.output), result.output


def test_a_file_named_yml_is_not_silently_skipped(config: Path) -> None:
    (config / "alerts.yaml").rename(config / "alerts.yml")
    _refused(config, "alerts.yml", "", "reads alerts.yaml (.yaml, not .yml)")


# -- what YAML can say that the configuration must not --------------------------------------------------

def test_python_tags_are_refused_and_never_run(config: Path) -> None:
    marker = config.parent / "ran"
    (config / "sources.yaml").write_text(f'sources: !!python/object/apply:os.system ["touch {marker}"]\n',
                                         encoding="utf-8")
    _refused(config, "sources.yaml:1", "sources", "YAML tag !!python/object/apply:os.system is not allowed")
    assert not marker.exists()


def test_a_custom_tag_is_refused_not_dropped(config: Path) -> None:
    _replace(config / "haidang.yaml", "crawl:\n", "crawl: !defaults\n")
    _refused(config, f"haidang.yaml:{_line(config / 'haidang.yaml', 'crawl: !defaults')}", "crawl",
             "YAML tag !defaults is not allowed")


def test_an_explicit_str_tag_is_text(config: Path) -> None:
    _replace(config / "haidang.yaml", "province: Quảng Ngãi", "province: !!str 51")
    assert check_config_dir(config) == []
    assert load_settings(config, environ={}).app.province == "51"


def test_a_value_yaml_cannot_build_names_its_line(config: Path) -> None:
    """2025-13-45 looks like a date to YAML, and building it raised a bare ValueError."""
    path = config / "haidang.yaml"
    _replace(path, 'deadlines: ["06-15", "11-15", "12-15", "12-31"]', "deadlines: [2025-13-45]")
    _refused(config, f"haidang.yaml:{_line(path, 'deadlines: [2025-13-45]')}", "", "put it in quotes")


def test_an_alias_used_as_a_key(config: Path) -> None:
    path = config / "haidang.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "x: &names [a, b]\n? *names\n: 1\n", encoding="utf-8")
    _refused(config, "haidang.yaml", "(top level)", "a mapping or list is used as a key")


def test_an_anchor_defined_twice(config: Path) -> None:
    path = config / "haidang.yaml"
    _replace(path, "crawl:\n", "crawl: &same\n")
    _replace(path, "match:\n", "match: &same\n")
    _refused(config, f"haidang.yaml:{_line(path, 'match: &same')}", "", "an anchor (&name) is defined twice")


def test_keys_spelt_alike_are_a_duplicate_not_a_silent_overwrite(config: Path) -> None:
    """YAML sees 82 and "82" as two keys; as text they are one, and the first one's names were lost."""
    path = config / "landmarks.yaml"
    _replace(path, '  "82":', "  82: [Chợ Nổi]\n" + '  "82":')
    first = _line(path, "82: [Chợ Nổi]")
    _refused(config, f"landmarks.yaml:{first + 1}", "landmarks.82", f"appears twice: here and on line {first}")


def test_an_unquoted_zero_padded_province_code_is_the_code(config: Path) -> None:
    path = config / "landmarks.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "  08: [Na Hang]\n", encoding="utf-8")
    assert check_config_dir(config) == []
    assert load_settings(config, environ={}).landmarks["08"] == ["Na Hang"]


def test_a_number_where_text_is_expected_says_to_quote_it(config: Path) -> None:
    (config / "users.yaml").write_text("users:\n  - name: 0912345678\n    password_hash: $argon2id$v=19$x\n",
                                       encoding="utf-8")
    _refused(config, "users.yaml:2", "users.0.name", "YAML reads the unquoted value as a number (912345678); put it "
                                                       "in quotes")


@pytest.mark.parametrize("value", [".inf", "1e999", ".nan"])
def test_an_infinite_timeout_is_refused(config: Path, value: str) -> None:
    path = config / "haidang.yaml"
    _replace(path, "download_timeout_s: 20 ", f"download_timeout_s: {value} ")
    _refused(config, f"haidang.yaml:{_line(path, 'download_timeout_s:')}", "crawl.download_timeout_s",
             "finite number")


def test_a_poll_interval_past_a_century_is_refused(config: Path) -> None:
    """`serve` schedules it: timedelta overflows with a traceback when it starts."""
    path = config / "haidang.yaml"
    _replace(path, "watch_minutes: 5 ", "watch_minutes: 100000000000000000000 ")
    _refused(config, f"haidang.yaml:{_line(path, 'watch_minutes:')}", "service.watch_minutes", "more than a century")


def test_an_unknown_time_zone_is_refused_by_the_check(config: Path) -> None:
    """Before, `config check` said OK and `status` ended in a ZoneInfoNotFoundError traceback."""
    path = config / "haidang.yaml"
    _replace(path, "timezone: Asia/Ho_Chi_Minh", "timezone: Asia/Hanoi_City")
    _refused(config, f"haidang.yaml:{_line(path, 'timezone:')}", "timezone", "unknown time zone 'Asia/Hanoi_City'")


def test_a_crawl_pattern_that_is_not_a_regular_expression(config: Path) -> None:
    path = config / "sources.yaml"
    _replace(path, "allow: ['^https://mofa\\.gov\\.vn/.+']", "allow: ['^https://mofa\\.gov\\.vn/(.+']")
    line = _line(path, "allow: ['^https://mofa")
    index = [s.url for s in load_settings(DEFAULT_CONFIG_DIR, environ={}).sources].index("https://mofa.gov.vn")
    _refused(config, f"sources.yaml:{line}", f"sources.{index}.crawl.allow", "is not a regular expression")


def test_a_selector_that_is_not_css(config: Path) -> None:
    path = config / "sources.yaml"
    _replace(path, "kind: government_portal\n", "kind: government_portal\n    selectors: {title: 'h1[[['}\n")
    line = _line(path, "selectors: {title: 'h1[[['}")
    index = [s.kind for s in load_settings(DEFAULT_CONFIG_DIR, environ={}).sources].index("government_portal")
    _refused(config, f"sources.yaml:{line}", f"sources.{index}.selectors.title", "'h1[[[' is not a CSS selector")


# -- names that must be unique or known -----------------------------------------------------------------

@pytest.mark.parametrize(("name", "anchor", "entry", "field"), [
    ("sources.yaml", "sources:\n", "  - {id: baoquangngai, name: X, country: VN, language: vi, kind: platform}\n",
     "sources"),
    ("agencies.yaml", "agencies:\n", "  - {id: so-ttt, name: X, emails: [a@example.gov.vn]}\n", "agencies"),
    ("alerts.yaml", "rules:\n", ("  - {name: tin-sai-su-that-rui-ro-cao, relevant: true, severity: cao, "
                                 "recipients: [so-ttt]}\n"), "rules"),
])
def test_a_name_given_twice_says_on_which_lines(config: Path, name: str, anchor: str, entry: str,
                                                 field: str) -> None:
    path = config / name
    _replace(path, anchor, anchor + entry)
    added = _line(path, entry.strip())
    listed = next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line == anchor.strip())
    _refused(config, f"{name}:{listed}", field, "appears twice: items 0 and")
    result = runner.invoke(app, ["config", "check", "-c", str(config)], env=_env(config.parent))
    assert f"on lines {added} and " in _flat(result.output), result.output


def test_a_misspelt_key_is_an_error_not_ignored(config: Path) -> None:
    path = config / "alerts.yaml"
    _replace(path, "    recipients:", "    recipents:")
    _refused(config, f"alerts.yaml:{_line(path, 'recipents:')}", "rules.0.recipents", "Extra inputs are not permitted")


# -- a command that rewrites a config file ----------------------------------------------------------------

def test_users_add_leaves_a_users_file_it_cannot_read_as_it_is(config: Path) -> None:
    """It rewrote the file from what it understood: a `users:` written as a mapping lost every user."""
    path = config / "users.yaml"
    before = "users:\n  admin:\n    role: administrator\n    password_hash: $argon2id$v=19$m=65536,t=3,p=4$a$b\n"
    path.write_text(before, encoding="utf-8")
    result = runner.invoke(app, ["users", "add", "lan", "--role", "officer", "-c", str(config)],
                           input="mật khẩu đủ dài\nmật khẩu đủ dài\n", env=_env(config.parent))
    assert result.exit_code == 2, result.output
    assert f"{path}:1: users: Input should be a valid list" in _flat(result.output), result.output
    assert path.read_text(encoding="utf-8") == before
