"""Render documents as a text PDF, an image-only (scanned) PDF, a .docx and an HTML page.

    python benchmarks/render_corpus.py [--out build/corpus-formats] [--corpus qa/data/corpus]

Text PDF: A4, the CJK font ``fonts-wqy-zenhei``, headings larger, the title as a running
header and ``- N -`` page numbers as footer, sentences flowing across pages. Scanned PDF:
the text PDF's pages rasterised at 150 dpi, without a text layer. DOCX: Heading styles.
HTML: the text wrapped in site navigation, a banner and a footer. The tests and
``benchmarks/readers.py`` use these functions.
"""

from __future__ import annotations

import argparse
import html
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.cleaning import heading_text  # noqa: E402
from qa.records import Document  # noqa: E402

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
BODY_PT = 11
HEADING_PT = {1: 20, 2: 16, 3: 14, 4: 13, 5: 12.5, 6: 12.5}
FORMATS = ("pdf", "scan.pdf", "docx", "html")


def blocks(doc: Document) -> list[tuple[int, str]]:
    """(heading depth or 0 for body, text) for each line of a normalised document."""
    out = []
    for line in doc.text.split("\n"):
        if line.startswith("#"):
            out.append((min(len(line) - len(line.lstrip("#")), 6), heading_text(line)))
        elif line.strip():
            out.append((0, line))
    return out


def render_text_pdf(doc: Document, path: Path, font: Path = FONT) -> int:
    """Write ``doc`` as an A4 text PDF; returns its page count."""
    from fpdf import FPDF

    class Pdf(FPDF):
        def header(self):
            self.set_font("cjk", size=9)
            self.cell(0, 8, doc.title, align="C", new_x="LMARGIN", new_y="NEXT")
            self.ln(4)

        def footer(self):
            self.set_y(-15)
            self.set_font("cjk", size=9)
            self.cell(0, 10, f"- {self.page_no()} -", align="C")

    pdf = Pdf(format="A4")
    pdf.add_font("cjk", fname=str(font))
    pdf.set_auto_page_break(True, margin=22)
    pdf.set_margins(22, 18, 22)
    pdf.add_page()
    for depth, text in blocks(doc):
        size = HEADING_PT[depth] if depth else BODY_PT
        pdf.set_font("cjk", size=size)
        if depth:
            pdf.ln(2)
        pdf.multi_cell(0, size * 0.62, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)
    pdf.output(str(path))
    return pdf.page_no()


def render_scanned_pdf(text_pdf: Path, path: Path, dpi: int = 150) -> int:
    """Rasterise every page of ``text_pdf`` at ``dpi`` into an image-only PDF."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(text_pdf))
    images = [page.render(scale=dpi / 72).to_pil().convert("L") for page in pdf]
    pdf.close()
    images[0].save(path, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return len(images)


def render_docx(doc: Document, path: Path) -> None:
    import docx

    out = docx.Document()
    out.core_properties.title = doc.title
    out.core_properties.created = datetime.now(timezone.utc)  # not the template's 2013
    for depth, text in blocks(doc):
        if depth:
            out.add_heading(text, level=min(depth, 9) - 1 if depth > 1 else 0)
        else:
            out.add_paragraph(text)
    out.save(str(path))


NAV = (
    '<header class="site"><div class="banner">慈溪市人民政府门户网站 · 欢迎访问</div>'
    '<nav><a href="/">首页</a> | <a href="/news">新闻动态</a> | <a href="/gov">政务公开</a>'
    ' | <a href="/service">办事服务</a> | <a href="/contact">联系我们</a></nav></header>'
)
FOOTER = (
    "<footer><p>版权所有：慈溪市人民政府办公室 地址：慈溪市白沙路街道 备案号：浙ICP备00000000号</p>"
    '<p><a href="/about">关于我们</a> | <a href="/map">网站地图</a>'
    ' | <a href="/privacy">隐私声明</a></p></footer>'
)


def render_html(doc: Document, path: Path) -> None:
    body = []
    for depth, text in blocks(doc):
        tag = f"h{depth}" if depth else "p"
        body.append(f"<{tag}>{html.escape(text)}</{tag}>")
    page = (
        '<!DOCTYPE html>\n<html lang="zh"><head><meta charset="utf-8">'
        f"<title>{html.escape(doc.title)}</title></head><body>{NAV}"
        f"<main><article>{''.join(body)}</article></main>"
        '<aside><h3>相关链接</h3><ul><li><a href="/a">宁波市政府</a></li>'
        '<li><a href="/b">浙江省政府</a></li></ul></aside>'
        f"{FOOTER}</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")


def render_all(corpus: Path, out: Path) -> dict[str, list[Path]]:
    """Every document of ``corpus`` in every format: ``{format: [paths]}``."""
    from qa.readers import read_folder

    made: dict[str, list[Path]] = {f: [] for f in FORMATS}
    for doc in read_folder(corpus):
        stem = Path(doc.source).stem
        for fmt in FORMATS:
            (out / fmt).mkdir(parents=True, exist_ok=True)
        pdf = out / "pdf" / f"{stem}.pdf"
        pages = render_text_pdf(doc, pdf)
        render_scanned_pdf(pdf, out / "scan.pdf" / f"{stem}.pdf")
        render_docx(doc, out / "docx" / f"{stem}.docx")
        render_html(doc, out / "html" / f"{stem}.html")
        made["pdf"].append(pdf)
        made["scan.pdf"].append(out / "scan.pdf" / f"{stem}.pdf")
        made["docx"].append(out / "docx" / f"{stem}.docx")
        made["html"].append(out / "html" / f"{stem}.html")
        print(f"{doc.source}: {pages} pages", file=sys.stderr)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "qa" / "data" / "corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "corpus-formats")
    args = parser.parse_args()
    render_all(args.corpus, args.out)


if __name__ == "__main__":
    main()
