"""Reading real document formats: text PDF, scanned PDF (OCR), DOCX, HTML, XLSX/CSV;
locations (pages, heading paths, rows), dates, and the messages for bad files.

Every file is generated in the test (fpdf2 with Debian's fonts-wqy-zenhei, python-docx,
openpyxl); OCR tests are marked ``model`` (a few seconds a page)."""

from __future__ import annotations

import difflib
import os
import re

import pytest

from benchmarks.render_corpus import (
    FONT,
    render_docx,
    render_html,
    render_scanned_pdf,
    render_text_pdf,
)
from embeddings import FakeEncoder
from qa import Assistant, build_index, chunk_document
from qa.readers import ReadOptions, UnreadableDocument, read_document, read_folder, registry
from qa.readers import ocr as ocr_module
from qa.readers.base import date_in_name, date_in_text, parse_date
from qa.readers.layout import Line, reading_order
from qa.records import Document

needs_font = pytest.mark.skipif(
    not FONT.exists() and not os.environ.get("CI"), reason="fonts-wqy-zenhei not installed"
)

TITLE = "慈溪市测试报告"
PARAGRAPH = (
    "慈溪市位于杭州湾南岸，是浙江省宁波市下辖的县级市，全市面积约1361平方公里。"
    "第{n}段记录了当年的主要指标：地区生产总值增长{n}.5%，规模以上工业增加值达到{n}00亿元，"
    "the Hangzhou Bay Bridge links Cixi with Shanghai in about two hours。"
    "各镇街道围绕产业转型升级开展工作，取得了明显成效。"
)


def make_doc(sections: int = 4, paragraphs: int = 5) -> Document:
    lines = [f"# {TITLE}"]
    chinese = "一二三四五六七八九十"
    for s in range(sections):
        lines.append(f"## {chinese[s]}、第{s + 1}部分的标题")
        lines.append(f"### （一）第{s + 1}部分的小节")
        lines += [PARAGRAPH.format(n=s * paragraphs + p + 1) for p in range(paragraphs)]
    return Document("report.md", TITLE, "\n".join(lines))


def plain(text: str) -> str:
    return re.sub(r"[\s#]", "", text)


def fidelity(source: str, got: str) -> float:
    """Share of the source's characters found, in order, in ``got``."""
    a, b = plain(source), plain(got)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return sum(m.size for m in matcher.get_matching_blocks()) / len(a)


def sentences(text: str) -> list[str]:
    return [s for s in re.findall(r"[^。\n]+。", re.sub(r"^#.*$", "", text, flags=re.M))]


@pytest.fixture(scope="module")
def text_pdf(tmp_path_factory):
    if not FONT.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{FONT} missing: .ci/run installs fonts-wqy-zenhei")
        pytest.skip("fonts-wqy-zenhei not installed")
    doc = make_doc()
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    pages = render_text_pdf(doc, path)
    assert pages >= 3, "the test needs text flowing over several pages"
    return doc, path, pages


# --- text PDF -------------------------------------------------------------------------------


@needs_font
def test_text_pdf_characters_in_order(text_pdf):
    source, path, pages = text_pdf
    doc = read_document(path)
    assert doc.pages == pages and doc.ocr_pages == 0
    assert fidelity(source.text, doc.text) >= 0.99
    assert "the Hangzhou Bay Bridge links Cixi" in doc.text  # Latin spaces kept
    assert "慈溪市 位于" not in doc.text and "杭州湾南岸，是" in doc.text  # no CJK spaces


@needs_font
def test_text_pdf_sentences_survive_page_breaks(text_pdf):
    source, path, _ = text_pdf
    doc = read_document(path)
    missing = [s for s in sentences(source.text) if s not in doc.text]
    assert not missing, missing[:3]


@needs_font
def test_text_pdf_running_header_and_page_numbers_dropped(text_pdf):
    _, path, pages = text_pdf
    doc = read_document(path)
    assert doc.text.count(TITLE) == 1  # the title once, not the header of every page
    for n in range(1, pages + 1):
        assert f"- {n} -" not in doc.text


@needs_font
def test_text_pdf_headings_and_pages_of_chunks(text_pdf):
    import pypdfium2 as pdfium

    _, path, pages = text_pdf
    doc = read_document(path)
    assert doc.title == TITLE
    chunks = chunk_document(doc)
    assert all(isinstance(c.page, int) and isinstance(c.page_end, int) for c in chunks)
    assert [c.page for c in chunks] == sorted(c.page for c in chunks)
    assert chunks[-1].page_end == pages
    assert chunks[0].section == (TITLE, "一、第1部分的标题", "（一）第1部分的小节")
    assert any(c.section[-2:] == ("四、第4部分的标题", "（一）第4部分的小节") for c in chunks)
    # each chunk's first sentence is on the page the chunk says
    pdf = pdfium.PdfDocument(str(path))
    page_text = [plain(p.get_textpage().get_text_range()) for p in pdf]
    for c in chunks:
        head = plain(c.text)[:12]
        assert head in page_text[c.page - 1] or c.page_end != c.page, (c.page, c.text[:30])
        span = f"{c.page}" if c.page == c.page_end else f"{c.page}–{c.page_end}"
        assert c.location == f"第 {span} 页"
    assert any(c.page_end > c.page for c in chunks)  # some passage runs over a page break


@needs_font
def test_citations_from_a_pdf_carry_page_and_location(tmp_path, text_pdf, shared_tokenizer):
    _, path, _ = text_pdf
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "report.pdf").write_bytes(path.read_bytes())
    kb = build_index(tmp_path / "docs", tmp_path / "idx", FakeEncoder())
    answer = Assistant(kb, FakeEncoder()).ask("第12段记录的地区生产总值增长多少？")
    assert answer.citations
    for c in answer.to_record()["citations"]:
        assert isinstance(c["page"], int) and c["location"].startswith(f"第 {c['page']}")
        assert re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", c["date"])


# --- scanned PDF ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scanned_pdf(tmp_path_factory, text_pdf):
    source, path, _ = text_pdf
    out = tmp_path_factory.mktemp("scan") / "scan.pdf"
    render_scanned_pdf(path, out, dpi=150)
    return source, out


@needs_font
def test_image_only_pdf_without_ocr_is_refused(scanned_pdf, monkeypatch):
    _, path = scanned_pdf
    with pytest.raises(UnreadableDocument, match="只有扫描图像"):
        read_document(path, options=ReadOptions(ocr=False))
    monkeypatch.setattr(ocr_module, "available", lambda: False)
    with pytest.raises(UnreadableDocument, match="OCR）不可用"):
        read_document(path)


@pytest.mark.model
@needs_font
def test_scanned_pdf_is_read_by_ocr_and_cached(tmp_path, monkeypatch):
    source = make_doc(1, 3)  # one page: OCR takes seconds a page
    render_text_pdf(source, tmp_path / "one.pdf")
    assert render_scanned_pdf(tmp_path / "one.pdf", tmp_path / "scan.pdf", dpi=150) == 1
    monkeypatch.setenv("QA_OCR_CACHE", str(tmp_path / "cache"))
    doc = read_document(tmp_path / "scan.pdf", options=ReadOptions(progress=True))
    assert (doc.pages, doc.ocr_pages) == (1, 1)
    assert fidelity(source.text, doc.text) >= 0.98
    assert all(c.page == 1 and c.location == "第 1 页" for c in chunk_document(doc))
    monkeypatch.setattr(ocr_module, "_engine", lambda *a: pytest.fail("OCR ran again"))
    assert read_document(tmp_path / "scan.pdf").text == doc.text  # from the cache


def test_ocr_engine_uses_the_wheels_models_at_the_tuned_sizes():
    """Building the engine reads its configuration only (models load on the first page)."""

    def value(v):  # rapidocr turns some settings into enums
        return getattr(v, "value", v)

    cfg = ocr_module._engine(ocr_module.DEFAULT).cfg
    assert (value(cfg.Det.ocr_version), value(cfg.Det.model_type)) == ("PP-OCRv6", "small")
    assert (value(cfg.Rec.ocr_version), value(cfg.Rec.model_type)) == ("PP-OCRv6", "small")
    assert cfg.Global.use_cls is False  # the classifier flipped good lines, and costs time
    assert cfg.Det.unclip_ratio == ocr_module.UNCLIP
    assert cfg.Rec.rec_batch_num == ocr_module.REC_BATCH
    assert cfg.EngineConfig.onnxruntime.intra_op_num_threads == ocr_module.THREADS
    if ocr_module.DET_SIDE:  # rapidocr's own ("min", 736) would detect on the full page
        assert (value(cfg.Det.limit_type), cfg.Det.limit_side_len) == ("max", ocr_module.DET_SIDE)
    full = ocr_module._engine(ocr_module.OcrSettings(det_side=0)).cfg
    assert value(full.Det.limit_type) == "min"


def test_ocr_reads_pages_in_order_with_several_at_once(monkeypatch):
    import random
    import threading
    import time

    main, rendered = threading.current_thread(), []

    def fake_render(page, dpi):
        rendered.append(threading.current_thread() is main)  # PDFium: one thread only
        return page

    def fake_ocr(image, settings):
        time.sleep(random.random() / 50)  # pages finish out of order
        return [Line(image, 0, 0, 10, 10, 10)]

    monkeypatch.setattr(ocr_module, "render", fake_render)
    monkeypatch.setattr(ocr_module, "ocr_image", fake_ocr)
    pages = [f"第{n}页" for n in range(1, 8)]
    for workers in (1, 2, 3):
        settings = ocr_module.OcrSettings(workers=workers)
        got = list(ocr_module.read_pages(pages, [2, 3, 5, 6, 7], settings))
        assert [n for n, _ in got] == [2, 3, 5, 6, 7]
        assert [lines[0].text for _, lines in got] == [pages[n - 1] for n in (2, 3, 5, 6, 7)]
    assert all(rendered)


def test_ocr_cache_is_keyed_by_what_changes_the_text(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_OCR_CACHE", str(tmp_path))
    read = []

    def fake_read(pdf, numbers, settings):
        read.extend(numbers)
        return [(n, [Line(f"第{n}页的文字", 72, 72, 144, 84, 12)]) for n in numbers]

    monkeypatch.setattr(ocr_module, "read_pages", fake_read)
    base = ocr_module.OcrSettings(dpi=144)
    first = ocr_module.ocr_pages(None, [1, 2], "key", settings=base)
    assert read == [1, 2] and first[1][0].x0 == 36  # pixels at 144 dpi → points
    faster = ocr_module.OcrSettings(dpi=144, threads=1, workers=2, rec_batch=1, arena=True)
    assert ocr_module.ocr_pages(None, [1, 2, 3], "key", settings=faster)[1] == first[1]
    assert read == [1, 2, 3]  # speed settings reuse the cache; only page 3 was new
    for other in (dict(dpi=120), dict(det_side=640), dict(unclip=2.5)):
        read.clear()
        ocr_module.ocr_pages(None, [1], "key", settings=ocr_module.OcrSettings(**other))
        assert read == [1], other


@needs_font
def test_mixed_pdf_is_read_page_by_page(tmp_path, text_pdf, scanned_pdf, monkeypatch):
    import pypdfium2 as pdfium

    _, text_path, _ = text_pdf
    _, scan_path = scanned_pdf
    mixed = pdfium.PdfDocument.new()
    mixed.import_pages(pdfium.PdfDocument(str(text_path)), [0])
    mixed.import_pages(pdfium.PdfDocument(str(scan_path)), [1])
    mixed.save(str(tmp_path / "mixed.pdf"))
    asked = []

    def fake_ocr(pdf, numbers, key, progress=False, settings=None):
        asked.extend(numbers)
        return {n: [Line("扫描页识别出的文字：慈溪杨梅种植面积约八万亩。", 60, 100, 500, 115, 11)]
                for n in numbers}  # fmt: skip

    monkeypatch.setattr(ocr_module, "available", lambda: True)
    monkeypatch.setattr(ocr_module, "ocr_pages", fake_ocr)
    doc = read_document(tmp_path / "mixed.pdf")
    assert asked == [2] and (doc.pages, doc.ocr_pages) == (2, 1)
    chunks = chunk_document(doc)
    assert chunks[0].page == 1
    scanned = [c for c in chunks if "杨梅" in c.text]
    assert scanned and scanned[-1].page_end == 2


def test_reading_order_reads_columns_one_after_the_other():
    def box(text, x, y):
        return Line(text, x, y, x + 200, y + 20, 20)

    title = Line("标题横跨两栏", 0, 0, 500, 30, 30)
    left = [box(f"左{i}", 0, 60 + 30 * i) for i in range(4)]
    right = [box(f"右{i}", 300, 60 + 30 * i) for i in range(4)]
    shuffled = [right[1], left[2], title, right[0], left[0], right[3], left[1], left[3], right[2]]
    order = [line.text for line in reading_order(shuffled)]
    assert order == ["标题横跨两栏", "左0", "左1", "左2", "左3", "右0", "右1", "右2", "右3"]


# --- DOCX, HTML, spreadsheets ---------------------------------------------------------------


def test_docx_headings_and_table_rows(tmp_path):
    import docx

    out = docx.Document()
    out.add_heading("慈溪统计公报", 0)
    out.add_heading("一、经济概况", 1)
    out.add_paragraph("全年地区生产总值增长较快。")
    out.add_heading("（一）财政", 2)
    out.add_paragraph("表1 财政收入")
    table = out.add_table(rows=3, cols=2)
    cells = [("年份", "财政收入（亿元）"), ("2018", "231.5"), ("2019", "250.8")]
    for r, (a, b) in enumerate(cells):
        table.cell(r, 0).text, table.cell(r, 1).text = a, b
    out.add_paragraph("财政收入逐年增长。")
    path = tmp_path / "gongbao.docx"
    out.save(str(path))

    doc = read_document(path)
    assert doc.title == "慈溪统计公报"
    chunks = chunk_document(doc)
    rows = [c for c in chunks if "年份：" in c.text]
    assert [c.text for c in rows] == [
        "年份：2018；财政收入（亿元）：231.5。",
        "年份：2019；财政收入（亿元）：250.8。",
    ]
    assert [c.location for c in rows] == ["表 1 第 2 行", "表 1 第 3 行"]
    assert all(c.section == ("慈溪统计公报", "一、经济概况", "（一）财政") for c in rows)
    after = next(c for c in chunks if "逐年增长" in c.text)
    assert after.location == "" and after.page is None
    assert next(c for c in chunks if "增长较快" in c.text).section[-1] == "一、经济概况"


def test_docx_rendered_from_a_document_keeps_every_character(tmp_path):
    source = make_doc(2, 2)
    path = tmp_path / "r.docx"
    render_docx(source, path)
    assert fidelity(source.text, read_document(path).text) >= 0.999


def test_html_main_text_without_navigation_and_footer(tmp_path):
    source = make_doc(2, 3)
    path = tmp_path / "page.html"
    render_html(source, path)
    doc = read_document(path)
    assert doc.title == TITLE
    assert fidelity(source.text, doc.text) >= 0.98
    for boilerplate in ("网站地图", "政务公开", "备案号", "欢迎访问", "宁波市政府"):
        assert boilerplate not in doc.text
    assert chunk_document(doc)[0].section[:1] == (TITLE,)


XLSX_ROWS = [("年份", "财政收入（亿元）", "备注"), (2018, 231.5, None), (2019, 250.8, "增长8%")]


def test_xlsx_rows_are_passages_with_sheet_and_row(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "财政"
    sheet.append(["慈溪市财政收入"])  # a title row above the header is the header…
    sheet.append([])
    book.remove(sheet)
    sheet = book.create_sheet("财政")
    sheet.append([])  # a blank first row: the header is row 2
    for row in XLSX_ROWS:
        sheet.append(row)
    book.create_sheet("空表")
    path = tmp_path / "stats.xlsx"
    book.save(path)

    doc = read_document(path)
    chunks = chunk_document(doc)
    assert [c.text for c in chunks] == [
        "年份：2018；财政收入（亿元）：231.5。",
        "年份：2019；财政收入（亿元）：250.8；备注：增长8%。",
    ]
    assert [c.location for c in chunks] == ["财政 第 3 行", "财政 第 4 行"]
    assert all(c.section == ("财政",) and c.page is None for c in chunks)


def test_csv_rows_are_passages(tmp_path):
    path = tmp_path / "stats.csv"
    text = "\n".join(",".join(str(v or "") for v in row) for row in XLSX_ROWS) + "\n"
    path.write_bytes(text.encode("gb18030"))
    chunks = chunk_document(read_document(path))
    assert [c.location for c in chunks] == ["第 2 行", "第 3 行"]
    assert chunks[1].text == "年份：2019；财政收入（亿元）：250.8；备注：增长8%。"


# --- encodings ------------------------------------------------------------------------------

TRADITIONAL = (
    "慈溪市位於杭州灣南岸，是浙江省寧波市下轄的縣級市。全市面積約1361平方公里，民營企業眾多。"
)
JAPANESE = "日本語のテキストです。東京は日本の首都であり、多くの人が住んでいます。これは試験です。"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "big5", "utf-8"])
def test_traditional_chinese_encodings(tmp_path, encoding):
    data = TRADITIONAL.encode(encoding)
    if encoding == "utf-16-le":
        data = b"\xff\xfe" + data
    elif encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path = tmp_path / "fanti.txt"
    path.write_bytes(data)
    assert read_document(path).text == TRADITIONAL


@pytest.mark.parametrize("encoding", ["shift_jis", "euc_jp"])
def test_implausible_decodings_are_refused(tmp_path, encoding):
    path = tmp_path / "nihongo.txt"
    path.write_bytes((JAPANESE * 4).encode(encoding))
    with pytest.raises(UnreadableDocument, match="无法识别文字编码"):
        read_document(path)


def test_folder_skips_undecodable_file_by_name_and_never_indexes_it(tmp_path):
    docs_dir = tmp_path / "docs"
    docs_dir.mkdir()
    (docs_dir / "good.txt").write_text(TRADITIONAL, encoding="utf-8")
    (docs_dir / "big5.txt").write_bytes(TRADITIONAL.encode("big5"))
    (docs_dir / "sjis.txt").write_bytes((JAPANESE * 4).encode("shift_jis"))
    skipped = []
    kb = build_index(
        docs_dir, tmp_path / "idx", FakeEncoder(), on_skip=lambda p, w: skipped.append((p.name, w))
    )
    assert sorted(kb.manifest["documents"]) == ["big5.txt", "good.txt"]
    assert [name for name, _ in skipped] == ["sjis.txt"] and "编码" in skipped[0][1]


# --- bad files ------------------------------------------------------------------------------


@needs_font
def test_encrypted_pdf_message(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_font("cjk", fname=str(FONT))
    pdf.add_page()
    pdf.set_font("cjk", size=12)
    pdf.cell(0, 10, "机密文件")
    path = tmp_path / "secret.pdf"
    pdf.output(str(path))
    with pytest.raises(UnreadableDocument, match="PDF 已加密"):
        read_document(path)


@needs_font
def test_corrupt_files_messages(tmp_path, text_pdf):
    _, good, _ = text_pdf
    cases = {
        "cut.pdf": good.read_bytes()[:300],
        "fake.docx": b"PK\x03\x04 not really a zip",
        "fake.xlsx": b"plain text, not a workbook",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UnreadableDocument, match="文件已损坏"):
            read_document(tmp_path / name)


def test_oversized_file_message(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "MAX_FILE_MB", 0.001)
    path = tmp_path / "big.txt"
    path.write_text("慈溪" * 1000, encoding="utf-8")
    with pytest.raises(UnreadableDocument, match=r"文件太大（0\.0 MB，上限 0\.001 MB）"):
        read_document(path)


@needs_font
def test_bad_files_are_reported_and_the_rest_of_the_folder_is_read(tmp_path, text_pdf):
    _, good, _ = text_pdf
    (tmp_path / "good.pdf").write_bytes(good.read_bytes())
    (tmp_path / "cut.pdf").write_bytes(good.read_bytes()[:200])
    (tmp_path / "notes.txt").write_text(TRADITIONAL, encoding="utf-8")
    reported = []
    docs = read_folder(tmp_path, on_error=lambda p, why: reported.append((p.name, why)))
    assert [d.source for d in docs] == ["good.pdf", "notes.txt"]
    assert reported == [("cut.pdf", "文件已损坏或不是有效的 PDF 文件")]


# --- dates ----------------------------------------------------------------------------------


def test_document_dates():
    assert parse_date("2020年1月6日") == "2020-01-06"
    assert date_in_text("# 标题\n论文集\n2018 年 10 月\n正文写于2001年。") == "2018-10"
    assert date_in_text("# 通知\n正文提到2001年3月的事。\n（2020年1月6日）") == "2020-01-06"
    assert date_in_text("# 通知\n正文提到2001年3月的事。") == ""


def test_a_date_in_the_file_name_beats_the_files_time(tmp_path):
    """A clone or copy resets a file's time; a date its name states does not change."""
    assert date_in_name("纪要-20200106.pdf") == "2020-01-06"
    assert date_in_name("papers-2018-10.md") == "2018-10"
    assert date_in_name("window-2020.txt") == "2020"
    assert date_in_name("v12345.txt") == ""
    path = tmp_path / "feature-2020.txt"
    path.write_text("慈溪市位于杭州湾南岸。", encoding="utf-8")
    os.utime(path, (1577836800 * 1.1, 1577836800 * 1.1))  # 2025
    assert read_document(path).date == "2020"


def test_document_date_falls_back_to_the_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("慈溪市位于杭州湾南岸。", encoding="utf-8")
    os.utime(path, (1577836800, 1577836800))  # 2020-01-01
    doc = read_document(path)
    assert doc.date == "2020-01-01" and chunk_document(doc)[0].date == "2020-01-01"


def test_line_joining_the_chinese_way():
    from qa.cleaning import join_text

    assert join_text("杭州湾", "南岸") == "杭州湾南岸"
    assert join_text("Bay", "Bridge") == "Bay Bridge"
    assert join_text("20", "17年") == "2017年"  # a number broken at the line end
    assert join_text("增长1.", "5%") == "增长1.5%"
    assert join_text("infor-", "mation") == "information"
    assert join_text("亿元，", "the") == "亿元，the"
