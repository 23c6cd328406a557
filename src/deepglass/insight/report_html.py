"""The HTML of the training report: one self-contained page (inline CSS, pictures as data: URIs, no scripts)."""
import html

# Okabe & Ito's palette (colour-blind safe); the orange badge carries dark text, the others white, for contrast.
_CSS = """
:root { --blue: #0072B2; --orange: #E69F00; --green: #009E73; --vermilion: #D55E00; --sky: #56B4E9;
        --ink: #1f2328; --muted: #57606a; --line: #d8dee4; --soft: #f6f8fa; --paper: #ffffff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--soft); color: var(--ink);
       font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 28px 20px 56px; }
header h1 { font-size: 1.75rem; margin: 0 0 4px; line-height: 1.25; }
header p { color: var(--muted); margin: 0; }
nav { margin: 16px 0 0; display: flex; flex-wrap: wrap; gap: 6px; }
nav a { color: var(--blue); text-decoration: none; border: 1px solid var(--line); background: var(--paper);
        border-radius: 999px; padding: 2px 12px; font-size: .85rem; }
nav a:hover { border-color: var(--blue); }
section { background: var(--paper); border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px;
          margin: 18px 0; }
h2 { font-size: 1.25rem; margin: 0 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.02rem; margin: 20px 0 8px; }
p { margin: 8px 0; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 10px 0; font-size: .88rem;
        font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fbfcfd; }
.scroll { overflow-x: auto; }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; margin: 12px 0; }
.stat { background: var(--soft); border-radius: 8px; padding: 10px 14px; }
.stat .value { font-size: 1.35rem; font-weight: 600; }
.stat .label { color: var(--muted); font-size: .8rem; }
.card { border: 1px solid var(--line); border-left: 6px solid var(--muted); border-radius: 8px; padding: 12px 16px;
        margin: 12px 0; background: var(--paper); }
.card h3 { margin: 0 0 6px; }
.card.problem { border-left-color: var(--vermilion); }
.card.warning { border-left-color: var(--orange); }
.card.note { border-left-color: var(--blue); }
.card.good { border-left-color: var(--green); }
.badge { display: inline-block; font-size: .72rem; font-weight: 700; letter-spacing: .04em; text-transform: uppercase;
         padding: 1px 8px; border-radius: 999px; margin-right: 8px; vertical-align: 2px; color: #fff;
         background: var(--muted); }
.badge.problem { background: var(--vermilion); }
.badge.warning { background: var(--orange); color: var(--ink); }
.badge.note { background: var(--blue); }
.badge.good { background: var(--green); }
.card dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0 0; font-size: .9rem; }
.card dt { color: var(--muted); }
.card dd { margin: 0; }
.notice { border: 1px solid var(--orange); background: #fff8e8; border-radius: 8px; padding: 10px 16px;
          margin: 18px 0; }
.skip { color: var(--muted); font-style: italic; }
figure { margin: 14px 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; border: 1px solid var(--line);
             border-radius: 6px; background: #fff; }
figcaption { color: var(--muted); font-size: .85rem; margin-top: 6px; text-align: center; }
pre { background: var(--soft); border-radius: 6px; padding: 12px 14px; overflow-x: auto;
      font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
details summary { cursor: pointer; color: var(--blue); margin: 8px 0; }
footer { color: var(--muted); font-size: .8rem; text-align: center; margin-top: 28px; }
@media print { body { background: #fff; } section { border: none; break-inside: avoid; } nav { display: none; } }
"""


def esc(text):
    """Text made safe for HTML (quotes included)."""
    return html.escape(str(text), quote=True)


def page(title, subtitle, sections, notices=(), footer=""):
    """The whole document: `sections` are `(anchor, heading, body_html)`; a navigation bar links to each."""
    links = "".join(f'<a href="#{esc(anchor)}">{esc(heading)}</a>' for anchor, heading, _ in sections)
    body = "".join(f'<section id="{esc(anchor)}"><h2>{esc(heading)}</h2>{content}</section>'
                   for anchor, heading, content in sections)
    notes = "".join(f'<div class="notice">{note}</div>' for note in notices)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
            f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p><nav>{links}</nav></header>\n"
            f"{notes}{body}\n<footer>{esc(footer)}</footer>\n</main>\n</body>\n</html>\n")


def table(header, rows, numeric=()):
    """A table; the columns whose indices are in `numeric` are right-aligned. Cells are text (escaped)."""
    def cell(tag, index, value):
        css = ' class="num"' if index in numeric else ""
        return f"<{tag}{css}>{esc(value)}</{tag}>"
    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def stats(items):
    """Key numbers as tiles: `[(label, value), ...]`."""
    tiles = "".join(f'<div class="stat"><div class="value">{esc(value)}</div><div class="label">{esc(label)}</div>'
                    "</div>" for label, value in items)
    return f'<div class="stats">{tiles}</div>'


def card(severity, label, heading, lines, facts=()):
    """A finding: a badge (`label`, also coloured by `severity`), a heading, paragraphs and `(term, value)` facts."""
    text = "".join(f"<p>{esc(line)}</p>" for line in lines)
    details = "".join(f"<dt>{esc(term)}</dt><dd>{esc(value)}</dd>" for term, value in facts)
    listing = f"<dl>{details}</dl>" if details else ""
    return (f'<div class="card {esc(severity)}"><h3><span class="badge {esc(severity)}">{esc(label)}</span>'
            f"{esc(heading)}</h3>{text}{listing}</div>")


def figure(png_base64, alt, caption=""):
    """A PNG given as base64 text, embedded as a data: URI."""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{png_base64}" alt="{esc(alt)}">{cap}</figure>'


def paragraph(text, css=None):
    return f'<p class="{css}">{esc(text)}</p>' if css else f"<p>{esc(text)}</p>"


def heading(text):
    return f"<h3>{esc(text)}</h3>"


def details(summary, body_html):
    return f"<details><summary>{esc(summary)}</summary>{body_html}</details>"


def pre(text):
    return f"<pre>{esc(text)}</pre>"
