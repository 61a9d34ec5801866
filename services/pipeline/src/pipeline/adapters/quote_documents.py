"""A quote as a printable document: HTML (escaped, print-friendly) and PDF (fpdf2, a
well-kept pure-Python PDF library; a TrueType font when one is found, for Unicode text)."""

from __future__ import annotations

import html
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from pipeline.domain.catalogue import LineItem
from pipeline.domain.quotes import Quote

# Tried in order when no font is configured (Debian's packages; CJK first).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def _amount(line_total: str, currency: str) -> str:
    return f"{line_total} {currency}"


def _rows(items: list[LineItem]) -> list[tuple[str, str, str, str, str, str]]:
    return [
        (
            line.sku,
            line.name,
            f"{line.quantity:f}",
            _amount(line.unit_price.formatted_amount(), line.unit_price.currency),
            f"{line.discount_percent:f}%",
            _amount(line.total.formatted_amount(), line.total.currency),
        )
        for line in items
    ]


HEADERS = ("SKU", "Product", "Quantity", "Unit price", "Discount", "Total")


def quote_html(quote: Quote) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in HEADERS)
    body = "".join(
        "<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>"
        for row in _rows(quote.items)
    )
    total = _amount(quote.total.formatted_amount(), quote.total.currency)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quote {e(quote.number)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%}}
th,td{{border:1px solid #999;padding:.3em .5em;text-align:left}}
td:nth-child(n+3){{text-align:right}}
@media print{{body{{margin:0}}}}</style></head>
<body><h1>Quote {e(quote.number)}</h1>
<p>Deal: {e(quote.opportunity_title)}<br>Status: {e(quote.status.value)}<br>
Valid until: {e(quote.valid_until.isoformat())}<br>
Date: {e(quote.created_at.date().isoformat())}</p>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>
<tfoot><tr><th colspan="5">Total</th><th>{e(total)}</th></tr></tfoot></table>
</body></html>
"""


def _font(pdf: FPDF, configured: str | None) -> tuple[str, bool]:
    """The font family to use and whether it covers Unicode."""
    for candidate in (configured, *FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            pdf.add_font("quote", fname=candidate)
            return "quote", True
    return "helvetica", False


def quote_pdf(quote: Quote, *, font: str | None = None) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(f"Quote {quote.number}")
    pdf.add_page()
    family, unicode_ok = _font(pdf, font)

    def text(value: str) -> str:
        return value if unicode_ok else value.encode("latin-1", "replace").decode("latin-1")

    pdf.set_font(family, size=18)
    pdf.cell(0, 12, text(f"Quote {quote.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=11)
    for line in (
        f"Deal: {quote.opportunity_title}",
        f"Status: {quote.status.value}",
        f"Valid until: {quote.valid_until.isoformat()}",
        f"Date: {quote.created_at.date().isoformat()}",
    ):
        pdf.cell(0, 7, text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(family, size=9)
    # One font file, no bold face: headings in the regular style.
    headings = FontFace(emphasis="")
    with pdf.table(
        col_widths=(22, 58, 20, 30, 20, 30), text_align="LEFT", headings_style=headings
    ) as table:
        table.row([text(h) for h in HEADERS])
        for row in _rows(quote.items):
            table.row([text(cell) for cell in row])
        total = _amount(quote.total.formatted_amount(), quote.total.currency)
        table.row(["", text("Total"), "", "", "", text(total)])
    return bytes(pdf.output())
