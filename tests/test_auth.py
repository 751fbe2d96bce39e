"""Who may edit: the mode chosen from the environment, passwords, sessions."""

from types import SimpleNamespace

import pytest

from qa.auth import (
    ADMIN,
    COOKIE,
    LINK,
    LOCAL,
    LOGIN,
    READ_ONLY,
    Access,
    cookie_of,
    hash_password,
    is_loopback,
    read_users,
    verify_password,
    write_user,
)


def req(session=None, header=None):
    return SimpleNamespace(
        cookies={COOKIE: session} if session else {}, headers={"cookie": header} if header else {}
    )


def test_password_hashes_are_salted_scrypt():
    first, second = hash_password("pässwort"), hash_password("pässwort")
    assert first.startswith("scrypt$") and first != second
    assert verify_password("pässwort", first) and verify_password("pässwort", second)
    assert not verify_password("passwort", first)
    assert not verify_password("x", "scrypt$16384$8$1$abcd$密码"), "a mangled users file line"
    assert not verify_password("x", "not-a-hash") and not verify_password("x", "md5$1$2$3$4$5")


def test_users_file_is_written_and_read(tmp_path):
    path = tmp_path / "users"
    write_user(path, "alice", "one password")
    write_user(path, "bob", "two password")
    write_user(path, "alice", "new password")  # replaces her line
    users = read_users(path)
    assert sorted(users) == ["alice", "bob"]
    assert verify_password("new password", users["alice"])
    assert path.stat().st_mode & 0o777 == 0o600
    assert "password" not in path.read_text()
    with pytest.raises(ValueError):
        write_user(path, "a:b", "x")


def test_users_file_skips_bad_lines(tmp_path):
    path = tmp_path / "users"
    path.write_text(f"# editors\n\nalice:{hash_password('pw')}\nbroken line\nbob:plain\n")
    assert list(read_users(path)) == ["alice"]


def test_users_file_login(tmp_path):
    write_user(tmp_path / "users", "alice", "correct horse")
    access = Access.from_env({"QA_USERS_FILE": str(tmp_path / "users")}, host="0.0.0.0")
    assert access.mode == LOGIN and access.can_edit
    assert access.login("alice", "wrong") is None and access.login("mallory", "x") is None
    session = access.login("alice", "correct horse")
    assert access.editor(req(session)) == "alice"
    assert access.editor(req(header=f"{COOKIE}={session}; other=1")) == "alice"
    assert access.editor(req("forged")) is None and access.editor(None) is None
    access.logout(session)
    assert access.editor(req(session)) is None


def test_admin_password():
    access = Access.from_env({"QA_ADMIN_PASSWORD": "s3cret", "SPACE_ID": "me/space"})
    assert access.mode == LOGIN
    assert access.editor(req(access.login(ADMIN, "s3cret"))) == ADMIN
    assert access.redeem("anything") is None


@pytest.mark.parametrize(
    "env, host, share",
    [
        ({"SPACE_ID": "me/space"}, None, False),
        ({}, "0.0.0.0", False),
        ({"GRADIO_SERVER_NAME": "0.0.0.0"}, None, False),
        ({}, "192.168.1.20", False),
        ({}, "::", False),
        ({}, "127.0.0.1", True),
        ({"GRADIO_SHARE": "True"}, "127.0.0.1", False),
        ({"QA_USERS_FILE": "/nonexistent/users"}, "127.0.0.1", False),  # fails closed
    ],
)
def test_read_only_without_a_login_off_this_computer(env, host, share):
    access = Access.from_env(env, host=host, share=share)
    assert access.mode == READ_ONLY and not access.can_edit and access.reason
    assert access.token is None and access.redeem("") is None
    assert access.login(ADMIN, "") is None


@pytest.mark.parametrize("host", [None, "127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_terminal_link_on_this_computer(host):
    access = Access.from_env({}, host=host)
    assert access.mode == LINK and len(access.token) >= 24
    assert access.redeem("wrong") is None and access.redeem(None) is None
    assert access.redeem("中文") is None and access.redeem(access.token + "é") is None
    session = access.redeem(access.token)
    assert access.editor(req(session)) == LOCAL
    assert Access.from_env({}, host=host).token != access.token  # new each start


def test_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")


def test_expired_session(monkeypatch):
    import qa.auth as auth

    access = Access.from_env({}, host="127.0.0.1")
    session = access.redeem(access.token)
    monkeypatch.setattr(auth, "SESSION_SECONDS", -1)
    expired = access.redeem(access.token)
    assert access.editor(req(expired)) is None and access.editor(req(session)) == LOCAL


def test_cookie_of_tolerates_odd_requests():
    assert cookie_of(SimpleNamespace(headers={"cookie": "\x00bad"})) is None
    assert cookie_of(SimpleNamespace()) is None
