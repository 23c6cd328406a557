"""MkDocs hooks for the documentation site (mkdocs.yml names this file).

- Links from the docs to files elsewhere in the repository (`../benchmarks/results/RESULTS.md`, `../SECURITY.md`)
  work in the site too: those files are published under `repo/` (Markdown rendered as pages, and the files they
  link to in turn), and the links are pointed there. A link to a file that does not exist is left as written, so
  that `mkdocs build --strict` reports it.
- The pictures and tables of the examples' full runs (`docs/examples/images/`, `examples/RESULTS.md`) are not in a
  fresh checkout. Until a full run has made one, a picture is replaced by a line naming the command that makes it,
  and a link by its text.
- The Examples section of the nav lists the pages of docs/examples/ that exist, in the order mkdocs.yml gives, then
  any page there that mkdocs.yml does not name.
- A nav entry may point at a section of a page (`Mixed precision: scaling.md#mixed-precision`), which MkDocs alone
  reports as a missing page; the entry becomes a link to that section, and a missing page or heading is reported.
"""
import logging
import os
import posixpath
import re

from mkdocs.structure.files import File, InclusionLevel
from mkdocs.structure.nav import Link, Section

log = logging.getLogger("mkdocs.hooks.deepglass")

PUBLISHED = "repo"  # where the repository's own files appear in the site
FULL_RUN_OUTPUTS = ("docs/examples/images/", "examples/RESULTS.md")  # relative to the repository root
EXAMPLES_SECTION = "Examples"

_LINK = re.compile(r'(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^()\s]+)(\s+"[^"]*")?\)')
_FENCE = re.compile(r"^\s*(```|~~~)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


_section_links = []  # (enclosing section titles, position, title, page, anchor) of the nav entries taken out
_not_built_yet = set()  # full-run outputs that pages refer to and this checkout lacks


def on_config(config):
    examples = os.path.join(config.docs_dir, "examples")
    for section in config.nav or []:
        if isinstance(section, dict) and isinstance(section.get(EXAMPLES_SECTION), list):
            section[EXAMPLES_SECTION] = _example_pages(section[EXAMPLES_SECTION], examples)
    _section_links.clear()
    _not_built_yet.clear()
    if config.nav:
        config.nav = _take_section_links(config.nav, ())
    return config


def _example_pages(listed, folder):
    """`listed` (paths, or `{title: path}`) without the pages that do not exist, then the pages it misses."""
    def path_of(entry):
        return entry if isinstance(entry, str) else next(iter(entry.values()))

    present = sorted(name for name in os.listdir(folder) if name.endswith(".md")) if os.path.isdir(folder) else []
    named = {posixpath.basename(path_of(entry)) for entry in listed}
    kept = [entry for entry in listed if posixpath.basename(path_of(entry)) in present]
    return kept + [f"examples/{name}" for name in present if name not in named]


def _take_section_links(items, sections):
    kept = []
    for item in items:
        if isinstance(item, dict) and len(item) == 1:
            (title, value), = item.items()
            if isinstance(value, list):
                item = {title: _take_section_links(value, sections + (title,))}
            elif isinstance(value, str) and "#" in value and not _SCHEME.match(value):
                page, _, anchor = value.partition("#")
                _section_links.append((sections, len(kept), title, page, anchor))
                continue
        kept.append(item)
    return kept


def on_nav(nav, config, files):
    for sections, position, title, page, anchor in _section_links:
        file = files.get_file_from_path(page)
        if file is None:
            log.warning("The nav entry '%s' points at %s#%s, but there is no page %s.", title, page, anchor, page)
            continue
        items, parent = nav.items, None
        for name in sections:
            parent = next(item for item in items if isinstance(item, Section) and item.title == name)
            items = parent.children
        link = Link(title, f"{file.url}#{anchor}")
        link.parent = parent
        items.insert(position, link)
    return nav


def on_page_content(html, page, config, files):
    for _, _, title, target, anchor in _section_links:
        if page.file.src_uri == target and f'id="{anchor}"' not in html:
            log.warning("The nav entry '%s' points at %s#%s, but that page has no such heading.", title, target,
                        anchor)
    return html


def on_files(files, config):
    root, docs = _root(config), os.path.abspath(config.docs_dir)
    queue = [file.abs_src_path for file in files.documentation_pages()]
    published = set()
    while queue:
        with open(queue.pop(), encoding="utf-8") as handle:
            source, text = handle.name, handle.read()
        for target in _link_targets(text):
            real = _resolve(source, target)[0]
            if real is None or _inside(real, docs) or not _inside(real, root) or not os.path.isfile(real):
                continue
            if real in published:
                continue
            published.add(real)
            uri = posixpath.join(PUBLISHED, os.path.relpath(real, root).replace(os.sep, "/"))
            files.append(File.generated(config, uri, abs_src_path=real, inclusion=InclusionLevel.NOT_IN_NAV))
            if real.endswith(".md"):
                queue.append(real)
    return files


def on_page_markdown(markdown, page, config, files):
    root, docs = _root(config), os.path.abspath(config.docs_dir)
    source = page.file.abs_src_path
    here = posixpath.dirname(page.file.src_uri)

    def rewrite(match):
        bang, text, target, title = match.groups()
        real, fragment = _resolve(source, target)
        if real is None or not _inside(real, root):
            return match.group(0)
        relative = os.path.relpath(real, root).replace(os.sep, "/")
        if not os.path.exists(real) and relative.startswith(FULL_RUN_OUTPUTS):
            log.debug("%s: %s is made by a full example run; not in this build", page.file.src_uri, relative)
            _not_built_yet.add(relative)
            return _made_by_full_run(bang, text, relative, page.file.src_uri)
        if _inside(real, docs) and _inside(source, docs):
            return match.group(0)
        uri = (os.path.relpath(real, docs).replace(os.sep, "/") if _inside(real, docs)
               else posixpath.join(PUBLISHED, relative))
        if files.get_file_from_path(uri) is None:
            return match.group(0)  # MkDocs reports it
        return f"{bang}[{text}]({posixpath.relpath(uri, here or '.')}{fragment}{title or ''})"

    return "\n".join(line if fenced else _LINK.sub(rewrite, line) for line, fenced in _lines(markdown))


def _made_by_full_run(bang, text, relative, page_uri):
    if not bang:
        return text
    stem = posixpath.splitext(posixpath.basename(page_uri))[0]
    command = f"python examples/{stem}.py" if page_uri.startswith("examples/") else "the examples' full runs"
    return f"*(Picture `{posixpath.basename(relative)}`: made by the full run, `{command}`.)*"


def _lines(text):
    """(line, whether it belongs to a fenced code block) for each line of Markdown `text`."""
    fenced = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            yield line, True
        else:
            yield line, fenced


def _link_targets(text):
    for line, fenced in _lines(text):
        if not fenced:
            yield from (match.group(3) for match in _LINK.finditer(line))


def _resolve(source, target):
    """(absolute path, `#fragment` or "") of a relative link in the file `source`; (None, "") for anything else."""
    if target.startswith(("#", "/")) or _SCHEME.match(target):
        return None, ""
    path, hashmark, fragment = target.partition("#")
    return os.path.normpath(os.path.join(os.path.dirname(source), path)), hashmark + fragment


def _inside(path, folder):
    return os.path.commonpath([os.path.abspath(path), folder]) == folder


def _root(config):
    return os.path.dirname(os.path.abspath(config.config_file_path))


def on_post_build(config):
    if _not_built_yet:
        log.info("%d pictures and tables of the examples' full runs are not in this checkout; their pages name the "
                 "commands that make them", len(_not_built_yet))
