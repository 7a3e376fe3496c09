"""The login throttle and session fingerprints on their own: counting before the check, per client and
per name, the cap on checks in flight, one audit note per window, and cookies bound to a logout nonce."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from alerts.links import LinkSigner
from haidang.web.sessions import Attempt, LoginThrottle, Refusal, SessionKeeper, client_key

from .conftest import SECRET, T0, _base_settings

WINDOW = timedelta(minutes=15)


def _fail(throttle: LoginThrottle, name: str, client: str, times: int = 1, at: datetime = T0) -> None:
    for _ in range(times):
        attempt = throttle.begin(name, client, at)
        assert isinstance(attempt, Attempt), attempt
        throttle.finish(attempt, ok=False)


def test_attempts_are_counted_before_the_check_so_racing_threads_cannot_all_pass() -> None:
    throttle = LoginThrottle(limit=5, in_flight=100)
    barrier = threading.Barrier(40, timeout=10)
    got: list[Attempt | Refusal] = []

    def try_once() -> None:
        barrier.wait()
        got.append(throttle.begin("canbo", "10.0.0.1", T0))      # nobody finishes: all still in their check

    threads = [threading.Thread(target=try_once) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sum(isinstance(a, Attempt) for a in got) == 5
    assert {a.reason for a in got if isinstance(a, Refusal)} == {"client"}


def test_checks_in_flight_are_capped_and_a_busy_refusal_is_not_counted() -> None:
    throttle = LoginThrottle(limit=5, in_flight=2)
    first, second = throttle.begin("a", "10.0.0.1", T0), throttle.begin("b", "10.0.0.2", T0)
    assert isinstance(first, Attempt) and isinstance(second, Attempt)
    assert throttle.begin("c", "10.0.0.3", T0) == Refusal("busy")
    throttle.finish(first, ok=False)
    assert isinstance(throttle.begin("c", "10.0.0.3", T0), Attempt)


def test_a_hammered_name_stays_open_to_clients_that_have_not_failed_on_it() -> None:
    throttle = LoginThrottle(limit=5)
    for n in range(5):
        _fail(throttle, "canbo", f"203.0.113.{n}")
    officer = throttle.begin("CanBo ", "10.1.1.1", T0)                   # the officer's own desk
    assert isinstance(officer, Attempt)
    throttle.finish(officer, ok=True)
    assert isinstance(throttle.begin("canbo", "10.1.1.2", T0), Attempt)  # one guess for a fresh address...
    assert throttle.begin("canbo", "203.0.113.0", T0).reason == "name"   # ...none for one that failed on it
    assert isinstance(throttle.begin("xem", "203.0.113.0", T0), Attempt)  # other names as usual


def test_a_success_is_taken_off_the_counts_but_clears_no_failures() -> None:
    throttle = LoginThrottle(limit=3)
    _fail(throttle, "canbo", "10.0.0.1", 2)
    for _ in range(4):
        ok = throttle.begin("canbo", "10.0.0.1", T0)
        assert isinstance(ok, Attempt)
        throttle.finish(ok, ok=True)
    _fail(throttle, "canbo", "10.0.0.1")
    assert throttle.begin("canbo", "10.0.0.1", T0).reason == "client"
    assert isinstance(throttle.begin("canbo", "10.0.0.1", T0 + WINDOW), Attempt)


def test_a_refusal_is_audited_once_per_window_with_the_count_since() -> None:
    throttle = LoginThrottle(limit=1)
    _fail(throttle, "canbo", "10.0.0.1")
    refusals = [throttle.begin("canbo", "10.0.0.1", T0 + timedelta(seconds=s)) for s in range(30)]
    assert [r for r in refusals if isinstance(r, Refusal) and r.audit] == [Refusal("client", True, 0)]
    later = T0 + WINDOW + timedelta(seconds=20)
    _fail(throttle, "x", "10.0.0.1", at=later)
    assert throttle.begin("y", "10.0.0.1", later) == Refusal("client", True, 29)


def test_ipv6_clients_are_counted_by_their_64_prefix() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:10.0.0.1") == "10.0.0.1" and client_key(None) == "-"
    assert client_key("testclient") == "testclient"


def test_a_cookie_is_bound_to_the_password_hash_and_the_logout_nonce() -> None:
    users = _base_settings().users
    keeper = SessionKeeper(users, LinkSigner(SECRET, "http://127.0.0.1:8470"))
    cookie = keeper.issue(users[0], T0, "nonce-1")
    session = keeper.read(cookie, T0)
    assert session is not None and keeper.current(session, "nonce-1")
    assert not keeper.current(session, "nonce-2")
    changed = users[0].model_copy(update={"password_hash": users[1].password_hash})
    other = SessionKeeper([changed, *users[1:]], LinkSigner(SECRET, "http://127.0.0.1:8470"))
    again = other.read(cookie, T0)
    assert again is not None and not other.current(again, "nonce-1")


def test_failures_seeded_from_before_a_restart_count_until_their_window_passes() -> None:
    throttle = LoginThrottle(limit=3)
    throttle.seed([("CanBo", "2001:db8::1", T0 - timedelta(minutes=2)), ("canbo", "2001:db8::2", T0 - timedelta(minutes=9)),
                   ("canbo", "2001:db8::3", T0 - timedelta(minutes=20))], T0)       # unordered; the last one too old
    _fail(throttle, "khac", "2001:db8::4", at=T0)                # the same /64: its third attempt in the window
    assert throttle.begin("xem", "2001:db8::5", T0) == Refusal("client", audit=True)
    assert isinstance(throttle.begin("xem", "10.0.0.1", T0), Attempt)       # another client
    # The older seeded failure passes first (sorted), so one attempt opens up at 6 minutes on.
    later = T0 + timedelta(minutes=6)
    attempt = throttle.begin("canbo", "2001:db8::6", later)
    assert isinstance(attempt, Attempt)
    assert isinstance(throttle.begin("xem", "2001:db8::7", later), Refusal)
