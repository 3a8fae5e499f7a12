"""The summary report as a one-page PDF (fpdf2): the company, the period and every figure."""

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from apps.reports.tables import summary_rows


def _text(value) -> str:
    # The built-in Helvetica holds Latin-1 (every accent of en/es/pt); anything else becomes "?".
    text = "" if value is None else str(value)
    return text.encode("latin-1", "replace").decode("latin-1")


def summary_pdf(data: dict, *, title: str, subtitle: str) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(_text(title))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _text(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _text(subtitle), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    for name, value in summary_rows(data):
        pdf.cell(120, 6, _text(name), border="B")
        pdf.cell(0, 6, _text("-" if value is None else value), border="B", align="R",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
