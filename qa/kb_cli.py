"""``python -m qa kb list|add|remove|restore|export|import|log|passwd``: manage the shared
knowledge base from the command line.

Changes take the same file lock as a running app, which picks them up before its next
answer. Every change is written to the audit log under ``--by`` (default: the login name).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

from .docstore import DocStore
from .errors import QAError
from .indexing import DEFAULT_CORPUS, DEFAULT_INDEX
from .readers import UnreadableDocument, supported_suffixes
from .store import load, read_manifest

EXPORT_STATE, EXPORT_AUDIT, EXPORT_FILES = "state.json", "audit.jsonl", "files/"


def configure_kb(kb: argparse.ArgumentParser) -> None:
    """The actions of ``kb`` and their arguments (the command itself is in ``qa.cli``)."""
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="index folder")
    shared.add_argument(
        "--corpus", type=Path, help="documents folder (default: the index's own, else bundled)"
    )
    shared.add_argument("--by", default=None, help="editor name for the audit log ($USER)")
    shared.add_argument(
        "--store", help="passage store, as for ask/index (default: $QA_STORE_URI, else embedded)"
    )
    actions = kb.add_subparsers(dest="action", required=True)

    def action(name: str, help: str) -> argparse.ArgumentParser:
        return actions.add_parser(name, help=help, parents=[shared])

    action("list", "documents: bundled, uploaded, removed")
    p = action("add", "add files (a same-named document needs --replace)")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--replace", action="store_true", help="replace same-named documents")
    p = action("remove", "remove a document (restorable)")
    p.add_argument("name")
    p = action("restore", "bring a removed document back")
    p.add_argument("name")
    p = action("export", "write uploads, removals and the audit log to a zip")
    p.add_argument("output", type=Path)
    p = action("import", "apply an export: its uploads and removals")
    p.add_argument("archive", type=Path)
    p = action("log", "print the audit log")
    p.add_argument("--limit", type=_positive, default=None, help="only the last N entries")
    p = action("passwd", "set an editor's password in the users file")
    p.add_argument("name")
    p.add_argument("--users-file", type=Path, default=None, help="default: $QA_USERS_FILE")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("必须是正整数")
    return value


NO_INDEX = "注意：{index} 中还没有索引（先运行 `python -m qa index`，或用 --index 指定索引文件夹）"


def cmd_kb(args: argparse.Namespace) -> int:
    try:
        return ACTIONS[args.action](args)
    except (QAError, UnreadableDocument, OSError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2


def _corpus(args: argparse.Namespace) -> Path:
    if args.corpus:
        return args.corpus
    manifest = read_manifest(args.index) or {}
    return Path(manifest.get("corpus") or DEFAULT_CORPUS)


def _who(args: argparse.Namespace) -> str:
    return args.by or os.environ.get("USER") or getpass.getuser() or "cli"


def _assistant(args: argparse.Namespace):
    from .assistant import Assistant

    return Assistant.open(args.index, corpus=_corpus(args), progress=True)


def kb_list(args: argparse.Namespace) -> int:
    manifest = read_manifest(args.index) or {}
    indexed = manifest.get("documents", {})
    counts: dict[str, int] = {}
    if manifest:
        for chunk in load(args.index).chunks.values():
            counts[chunk.source] = counts.get(chunk.source, 0) + 1
    else:
        print(NO_INDEX.format(index=args.index), file=sys.stderr)
    rows = DocStore(args.index).entries(_corpus(args), supported_suffixes())
    for row in rows:
        origin = "上传" if row["origin"] == "upload" else "自带"
        passages = f"{counts.get(row['source'], 0)} 段" if manifest else "未索引"
        state = "已删除" if row["removed"] else passages
        who = f"  {row['by']} {row['at']}" if row["by"] else ""
        digest = indexed.get(row["source"], "")
        print(f"{row['source']}\t{origin}\t{state}\t{digest}{who}")
    gone = sum(r["removed"] for r in rows)
    print(f"共 {len(rows) - gone} 篇文档（{gone} 篇已删除）")
    return 0


def kb_add(args: argparse.Namespace) -> int:
    for path in args.files:
        if not path.is_file():
            raise UnreadableDocument(f"找不到文件 {path}")
        if path.suffix.lower() not in supported_suffixes():
            raise UnreadableDocument(f"{path.name}：不支持的文件类型")
    assistant = _assistant(args)
    existing = {d["source"] for d in assistant.documents()} & {p.name for p in args.files}
    if existing and not args.replace:
        names = "、".join(sorted(existing))
        print(f"已存在同名文档：{names}。确认替换请加 --replace。", file=sys.stderr)
        return 1
    added = assistant.add_files(args.files, [p.name for p in args.files], by=_who(args))
    print(f"已添加 {len(args.files)} 个文件，{added} 个段落")
    return 0


def kb_remove(args: argparse.Namespace) -> int:
    removed = _assistant(args).remove_document(args.name, by=_who(args))
    if not removed:
        print(f"知识库中没有文档 {args.name}", file=sys.stderr)
        return 1
    print(f"已删除 {args.name}（{removed} 个段落），可用 `kb restore {args.name}` 恢复")
    return 0


def kb_restore(args: argparse.Namespace) -> int:
    added = _assistant(args).restore_document(args.name, by=_who(args))
    if not added:
        print(f"{args.name} 没有被删除", file=sys.stderr)
        return 1
    print(f"已恢复 {args.name}（{added} 个段落）")
    return 0


def kb_export(args: argparse.Namespace) -> int:
    store = DocStore(args.index)
    state = store.state()
    with zipfile.ZipFile(args.output, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(EXPORT_STATE, json.dumps(state, ensure_ascii=False, indent=1))
        archive.writestr(
            EXPORT_AUDIT, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in store.audit())
        )
        for name, entry in state["uploads"].items():
            archive.write(store.blob(entry), EXPORT_FILES + name)
    uploads, removed = len(state["uploads"]), len(state["removed"])
    print(f"已导出 {uploads} 个上传文档、{removed} 条删除记录到 {args.output}")
    return 0


def kb_import(args: argparse.Namespace) -> int:
    with zipfile.ZipFile(args.archive) as archive, tempfile.TemporaryDirectory() as tmp:
        state = json.loads(archive.read(EXPORT_STATE))
        paths, names = [], []
        for name in state.get("uploads", {}):
            if Path(name).name != name or name.startswith("."):
                raise UnreadableDocument(f"导出文件中的文档名无效：{name!r}")
            path = Path(tmp) / name
            path.write_bytes(archive.read(EXPORT_FILES + name))
            paths.append(path)
            names.append(name)
        assistant = _assistant(args)
        who = _who(args)
        if paths:
            assistant.add_files(paths, names, by=who)
        removed = [n for n in state.get("removed", {}) if assistant.remove_document(n, by=who)]
    print(f"已导入 {len(paths)} 个上传文档，删除 {len(removed)} 篇文档")
    return 0


def kb_log(args: argparse.Namespace) -> int:
    rows = DocStore(args.index).audit(args.limit)
    if not rows:
        note = "" if read_manifest(args.index) else "\n" + NO_INDEX.format(index=args.index)
        print("审计日志：还没有修改记录。" + note, file=sys.stderr)
    for row in rows:
        sha = (row.get("sha256") or "")[:16]
        print(
            f"{row.get('at')}\t{row.get('by')}\t{row.get('action')}\t{row.get('document')}\t{sha}"
        )
    return 0


def kb_passwd(args: argparse.Namespace) -> int:
    from .auth import write_user

    path = args.users_file or (
        Path(os.environ["QA_USERS_FILE"]) if os.environ.get("QA_USERS_FILE") else None
    )
    if path is None:
        print("请用 --users-file 指定用户文件，或设置 QA_USERS_FILE", file=sys.stderr)
        return 2
    password = os.environ.get("QA_NEW_PASSWORD") or getpass.getpass(f"{args.name} 的新密码：")
    if not os.environ.get("QA_NEW_PASSWORD") and getpass.getpass("再输入一次：") != password:
        print("两次输入的密码不一致", file=sys.stderr)
        return 1
    if len(password) < 8:
        print("密码至少 8 个字符", file=sys.stderr)
        return 1
    try:
        write_user(path, args.name, password)
    except ValueError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    print(f"已为 {args.name} 设置密码（{path}）；以 QA_USERS_FILE={path} 启动应用即可登录")
    return 0


ACTIONS = {
    "list": kb_list,
    "add": kb_add,
    "remove": kb_remove,
    "restore": kb_restore,
    "export": kb_export,
    "import": kb_import,
    "log": kb_log,
    "passwd": kb_passwd,
}
