"""The HTTP side of editing: login, logout, the terminal's editor link, and the original
files of the knowledge base, as routes of a FastAPI app the Gradio page is mounted on.

    GET  /kb/login           the login form (users file / QA_ADMIN_PASSWORD)
    POST /kb/login           checks the password, sets the session cookie, back to the page
    GET  /kb/editor?token=…  the one-time terminal link (no login configured, loopback only)
    GET  /kb/logout          ends the editor session
    GET  /kb/file/<hash>     the original file of a document of the knowledge base, by the
                             content hash in the index manifest (``#page=N`` for PDFs)
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from .auth import COOKIE, LINK, LOGIN, SESSION_SECONDS, Access

log = logging.getLogger(__name__)

MEDIA_TYPES = {
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
FAILED_LOGIN_DELAY = 1.0  # seconds, against password guessing

LOGIN_PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>编辑者登录</title>
<style>body{{font-family:sans-serif;max-width:24em;margin:4em auto;padding:0 1em}}
input{{display:block;width:100%;margin:.3em 0 1em;padding:.4em}}.error{{color:#b91c1c}}</style>
</head><body><h1>编辑者登录</h1>{message}
<form method="post" action="{root}/kb/login">
<label>用户名<input name="name" autocomplete="username" value="{name}" required></label>
<label>密码<input name="password" type="password" autocomplete="current-password" required>
</label><button type="submit">登录</button></form><p><a href="{root}/">返回问答页</a></p>
</body></html>"""


def file_link(digest: str, page: int | None = None) -> str:
    """The URL path of a document's original file (``digest``: its hash in the manifest)."""
    return f"/kb/file/{digest}" + (f"#page={page}" if page else "")


def _page(message: str, status: int = 200, name: str = "") -> HTMLResponse:
    body = LOGIN_PAGE.format(message=message, root="", name=html.escape(name))
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _signed_in(request: Request, session: str) -> RedirectResponse:
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        session,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https",
        path="/",
    )
    return response


def kb_router(access: Access, find_file: Callable[[str], Path | None]) -> APIRouter:
    """The routes above; ``find_file(digest)`` is the original file of a document of the
    knowledge base with that content hash, or None (nothing else is ever served)."""
    router = APIRouter()

    @router.get("/kb/login")
    def login_form():
        if access.mode != LOGIN:
            text = (
                "本机运行：请使用启动终端中打印的编辑链接。"
                if access.mode == LINK
                else f"知识库为只读：{html.escape(access.reason)}。"
            )
            return _page(f"<p>{text}</p>", 404)
        return _page("")

    @router.post("/kb/login")
    async def login(request: Request):
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        name = (form.get("name") or [""])[0].strip()
        password = (form.get("password") or [""])[0]
        session = await run_in_threadpool(access.login, name, password)  # scrypt: ~50 ms
        if session is None:
            log.warning("failed editor login for %r", name)
            await asyncio.sleep(FAILED_LOGIN_DELAY)  # slows guessing down
            return _page('<p class="error">用户名或密码不正确。</p>', 401, name)
        return _signed_in(request, session)

    @router.get("/kb/editor")
    def editor_link(request: Request, token: str = ""):
        session = access.redeem(token)
        if session is None:
            return PlainTextResponse("编辑链接无效或已过期（每次启动都会生成新的链接）。", 403)
        return _signed_in(request, session)

    @router.get("/kb/logout")
    def logout(request: Request):
        access.logout(request.cookies.get(COOKIE))
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.get("/kb/file/{digest}")
    def original(digest: str):
        path = find_file(digest) if digest.isalnum() else None
        if path is None:
            return PlainTextResponse("没有这个文件。", 404)
        headers = {"Content-Disposition": "inline", "X-Content-Type-Options": "nosniff"}
        if path.suffix.lower() != ".pdf":  # browsers refuse to show a sandboxed PDF
            headers["Content-Security-Policy"] = "sandbox"
        media_type = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
        return FileResponse(path, media_type=media_type, headers=headers)

    return router


def build_server(
    demo,
    access: Access,
    find_file: Callable[[str], Path | None],
    routers: Sequence[APIRouter] = (),
    **gradio,
) -> FastAPI:
    """A FastAPI app with the routes above, ``routers`` (the ``/v1`` endpoint,
    ``qa/openai_api.py``) and the Gradio page mounted at ``/``; ``gradio`` are
    ``gr.mount_gradio_app``'s keyword arguments (theme, css, max_file_size…)."""
    import gradio as gr

    server = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    server.include_router(kb_router(access, find_file))
    for router in routers:
        server.include_router(router)
    mounted = gr.mount_gradio_app(server, demo, path="/", **gradio)
    # Gradio checks that a file named in an event's input was uploaded (lies in its upload
    # folder) only once the Blocks "has launched", which ``launch()`` sets and
    # ``mount_gradio_app`` does not: without this, any caller could hand an event any file
    # the server can read (a session upload of /etc/…, a batch file) by its path.
    demo.has_launched = True
    return mounted


def announce(access: Access, host: str, port: int) -> str:
    """What to print in the terminal at start: the editor link, or how editing works."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown}:{port}"
    if access.mode == LINK:
        return (
            f"问答页：{base}/\n"
            f"编辑者链接（仅本次运行有效，打开后可管理知识库）：\n"
            f"    {base}/kb/editor?token={quote(access.token or '')}"
        )
    if access.mode == LOGIN:
        return f"问答页：{base}/ · 编辑者登录：{base}/kb/login（{len(access.users)} 个账号）"
    return f"问答页：{base}/ · 知识库只读：{access.reason}"
