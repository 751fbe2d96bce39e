"""Reading files: encoding detection, refusal of what is not text, folder reading."""

from __future__ import annotations

import random

import pytest

from qa import UnreadableDocument, read_document, read_folder
from qa.readers import decode_text

TEXT = "慈溪市位于杭州湾南岸，是浙江省宁波市下辖的县级市。全市面积约1361平方公里。"
DOC = "慈溪概况\n\n" + TEXT + "\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_decode_text_encodings(encoding):
    assert decode_text(TEXT.encode(encoding)) == TEXT


def test_decode_gb18030_four_byte_characters():
    text = "𠀀字不在GBK里，但GB18030能编码它。慈溪的“八八战略”实践。"
    data = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert decode_text(data) == text


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_read_document_decodes_and_repairs(tmp_path, encoding):
    path = tmp_path / "gaikuang.txt"
    path.write_bytes(DOC.encode(encoding))
    doc = read_document(path)
    assert doc.source == "gaikuang.txt"
    assert doc.title == "慈溪概况"
    assert "\ufeff" not in doc.text
    assert doc.text == "## 慈溪概况\n" + TEXT


def test_read_document_custom_name(tmp_path):
    path = tmp_path / "upload-123.tmp.txt"
    path.write_text(DOC, encoding="utf-8")
    assert read_document(path, name="概况.txt").source == "概况.txt"


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


_RNG = random.Random(0)
BAD_FILES = {
    "picture.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)),
    "empty.txt": b"",
    "blank.md": b"  \n\n\t\n",
    "garbage.txt": b"\xff\xfe\xfd" * 100,
    "noise.txt": bytes(_RNG.randrange(1, 256) for _ in range(3000)),  # random, no NULs
    "report.pdf": b"%PDF-1.4 whatever",
    "noext": TEXT.encode("utf-8"),
}
MESSAGES = {
    "picture.txt": "二进制",
    "empty.txt": "文件是空的",
    "blank.md": "文件是空的",
    "garbage.txt": "无法识别文字编码",
    "noise.txt": "无法识别文字编码",
    "report.pdf": "文件已损坏或不是有效的 PDF 文件",
    "noext": "不支持的文件类型 （无）",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_unreadable_documents_raise_with_message(tmp_path, name):
    path = _write(tmp_path, name, BAD_FILES[name])
    with pytest.raises(UnreadableDocument, match=MESSAGES[name]):
        read_document(path)


def test_unreadable_document_is_a_value_error():
    # The CLI and indexing catch ValueError; the exception must stay one.
    assert issubclass(UnreadableDocument, ValueError)


def test_read_folder_skips_and_reports_by_name(tmp_path, caplog):
    for name, data in BAD_FILES.items():
        _write(tmp_path, name, data)
    _write(tmp_path, "b.txt", DOC.encode("gbk"))
    _write(tmp_path, "a.md", ("# 标题A\n\n" + TEXT).encode("utf-8"))
    sub = tmp_path / "sub"
    sub.mkdir()
    _write(sub, "c.txt", DOC.encode("utf-8-sig"))
    _write(tmp_path, ".hidden.txt", DOC.encode("utf-8"))

    reported: list[tuple[str, str]] = []
    with caplog.at_level("WARNING", logger="qa.readers"):
        docs = read_folder(tmp_path, on_error=lambda p, why: reported.append((p.name, why)))

    assert [d.source for d in docs] == ["a.md", "b.txt", "sub/c.txt"]  # relative paths
    assert docs[0].title == "标题A"
    assert all(TEXT in d.text for d in docs)
    assert sorted(name for name, _ in reported) == sorted(BAD_FILES)
    for name, why in reported:
        assert MESSAGES[name] in why
    for name in BAD_FILES:  # also logged, by name
        assert name in caplog.text
    assert ".hidden.txt" not in caplog.text


def test_read_folder_without_callback_does_not_crash(tmp_path):
    _write(tmp_path, "bad.txt", b"\x00\x01\x02")
    _write(tmp_path, "good.txt", DOC.encode("utf-8"))
    assert [d.source for d in read_folder(tmp_path)] == ["good.txt"]
