"""Who may change the shared knowledge base. Reading (chat, batch, API) is open to everyone;
adding, replacing, removing and restoring documents is an editor's action.

Editors are configured, in this order:

- ``QA_USERS_FILE``: one ``name:hash`` a line, hashes from ``hash_password`` (scrypt),
  written by ``python -m qa kb passwd NAME``;
- ``QA_ADMIN_PASSWORD``: one editor, ``admin`` (on a Space: a secret);
- neither, on this computer only (bound to a loopback address, not on a Space, no share
  link): a random one-time editor link is printed in the terminal at start, as Jupyter
  does; its token is valid for this process and sets a session cookie.

Otherwise (a Space, a share link or any non-loopback address without a login) the knowledge
base is read-only for everybody. A logged-in editor holds a random session id in an
HttpOnly cookie; the server keeps the sessions in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

log = logging.getLogger(__name__)

COOKIE = "qa_editor"
SESSION_SECONDS = 12 * 3600
ADMIN = "admin"  # the editor QA_ADMIN_PASSWORD logs in
LOCAL = "本机"  # the editor of the terminal link
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1

LOGIN, LINK, READ_ONLY = "login", "link", "read-only"
NOT_ALLOWED = "只有编辑者可以修改共享知识库，请先登录。"


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` (hex), for a users file."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(digest) // 2,
            maxmem=128 * int(n) * int(r) * 2,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex().encode(), digest.encode())  # bytes: any text


def read_users(path: str | Path) -> dict[str, str]:
    """{name: hash} of a users file; malformed lines are skipped with a warning."""
    users = {}
    for number, line in enumerate(Path(path).read_text("utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, stored = line.partition(":")
        if not sep or not name or not stored.startswith("scrypt$"):
            log.warning("%s:%d: not a name:hash line, skipped", path, number)
            continue
        users[name.strip()] = stored.strip()
    return users


def write_user(path: str | Path, name: str, password: str) -> None:
    """Add or replace ``name`` in the users file (written atomically, mode 600)."""
    if not name or ":" in name or name != name.strip():
        raise ValueError("用户名不能为空，也不能包含冒号或首尾空格")
    path = Path(path)
    users = read_users(path) if path.exists() else {}
    users[name] = hash_password(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(f"{n}:{h}\n" for n, h in users.items())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_loopback(host: str | None) -> bool:
    """Does binding to ``host`` keep the server on this computer? (0.0.0.0 does not.)"""
    if not host or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cookie_of(request: object, name: str = COOKIE) -> str | None:
    """A cookie of a Gradio/Starlette request (None when absent or no request)."""
    if request is None:
        return None
    cookies = getattr(request, "cookies", None)
    if isinstance(cookies, Mapping) and name in cookies:
        return cookies[name]
    headers = getattr(request, "headers", None) or {}
    raw = headers.get("cookie") if isinstance(headers, Mapping) else None
    if not raw:
        return None
    jar = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # noqa: BLE001  (a malformed header is no cookie)
        return None
    return jar[name].value if name in jar else None


@dataclass
class Access:
    """The editing mode of this process and its logged-in editor sessions."""

    mode: str  # LOGIN, LINK or READ_ONLY
    users: dict[str, str] = field(default_factory=dict)  # name -> scrypt hash
    token: str | None = None  # LINK mode: the terminal link's token
    reason: str = ""  # READ_ONLY: why, for the page
    sessions: dict[str, tuple[str, float]] = field(default_factory=dict)  # id -> (name, until)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] = os.environ, host: str | None = None, share: bool = False
    ) -> Access:
        """The mode for this environment (see the module docstring). ``host`` defaults to
        ``GRADIO_SERVER_NAME``, else 0.0.0.0 on a Space, else 127.0.0.1."""
        users: dict[str, str] = {}
        if env.get("QA_USERS_FILE"):
            try:
                users.update(read_users(env["QA_USERS_FILE"]))
            except (OSError, UnicodeDecodeError) as exc:  # fail closed: nobody edits
                log.error("cannot read QA_USERS_FILE %s: %s", env["QA_USERS_FILE"], exc)
                return cls(READ_ONLY, reason=f"用户文件 {env['QA_USERS_FILE']} 无法读取")
        if env.get("QA_ADMIN_PASSWORD"):
            users[ADMIN] = hash_password(env["QA_ADMIN_PASSWORD"])
        if users:
            return cls(LOGIN, users=users)
        space = bool(env.get("SPACE_ID"))
        share = share or env.get("GRADIO_SHARE", "").lower() in ("1", "true", "yes")
        host = host or env.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if space else "127.0.0.1")
        if space:
            return cls(
                READ_ONLY, reason="在 Space 上运行且未设置 QA_ADMIN_PASSWORD 或 QA_USERS_FILE"
            )
        if share:
            return cls(READ_ONLY, reason="通过分享链接运行且未配置登录")
        if not is_loopback(host):
            return cls(READ_ONLY, reason=f"监听 {host}（非本机地址）且未配置登录")
        return cls(LINK, token=secrets.token_urlsafe(24))

    @property
    def can_edit(self) -> bool:
        return self.mode != READ_ONLY

    def login(self, name: str, password: str) -> str | None:
        """A new session id for a right name and password, else None."""
        stored = self.users.get(name)
        # verify against a dummy hash for unknown names: the same time either way
        ok = verify_password(password, stored or _DUMMY) and stored is not None
        return self._open(name) if self.mode == LOGIN and ok else None

    def redeem(self, token: str | None) -> str | None:
        """A new session id for the terminal link's token, else None."""
        if self.mode != LINK or not self.token or not token:
            return None
        same = hmac.compare_digest(token.encode(), self.token.encode())  # str: ASCII only
        return self._open(LOCAL) if same else None

    def logout(self, session: str | None) -> None:
        with self._lock:
            self.sessions.pop(session or "", None)

    def editor(self, request: object) -> str | None:
        """The editor's name when ``request`` carries a live editor session, else None."""
        session = cookie_of(request)
        if not session or not self.can_edit:
            return None
        with self._lock:
            name, until = self.sessions.get(session, ("", 0.0))
            if until < time.time():
                self.sessions.pop(session, None)
                return None
        return name

    def _open(self, name: str) -> str:
        session = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            self.sessions = {k: v for k, v in self.sessions.items() if v[1] > now}
            self.sessions[session] = (name, now + SESSION_SECONDS)
        log.info("editor %s logged in", name)
        return session


_DUMMY = hash_password(secrets.token_hex(8))
