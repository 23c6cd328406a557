"""The documentation site's structure: every page in the nav, every API page on a real module, and the list of
Keras names that deepglass lacks still true. (`mkdocs build --strict`, run by scripts/test.sh, checks the links.)"""
import importlib
import importlib.util
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"


def _nav_pages():
    return set(re.findall(r"[\w./-]+\.md", MKDOCS_YML.read_text(encoding="utf-8")))


def test_the_nav_names_every_page():
    # docs/examples/ is the exception: the site's hook lists its pages by itself.
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    missing = sorted(page for page in pages - _nav_pages() if not page.startswith("examples/"))
    assert not missing, f"add these pages to the nav in mkdocs.yml: {missing}"


def test_every_page_in_the_nav_exists_except_examples_yet_to_be_written():
    absent = sorted(page for page in _nav_pages() if not (DOCS / page).is_file() and not page.startswith("examples/"))
    assert not absent, f"mkdocs.yml names pages that do not exist: {absent}"


def test_every_api_page_documents_an_importable_public_module():
    modules = []
    for page in sorted((DOCS / "api").glob("*.md")):
        directives = re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), re.MULTILINE)
        assert directives, f"{page.name} has no `::: deepglass.<module>` directive"
        modules += directives
    for name in modules:
        importlib.import_module(name)
    expected = {"deepglass"} | {f"deepglass.{name}" for name in (
        "layers", "models", "losses", "metrics", "optimizers", "optimizers.schedules", "initializers", "regularizers",
        "constraints", "activations", "callbacks", "datasets", "utils", "saving", "insight", "distribution",
        "mixed_precision", "config")}
    assert expected <= set(modules), f"API pages missing for {sorted(expected - set(modules))}"


def test_the_keras_names_listed_as_missing_are_missing():
    text = (DOCS / "differences.md").read_text(encoding="utf-8")
    section = text.split("## What Keras has and deepglass does not", 1)[1].split("\n## ", 1)[0]
    names = re.findall(r"`((?:keras|[a-z_]+)\.[\w.]+)`", section)
    assert len(names) > 20
    present = []
    for name in names:
        owner, attribute = ("deepglass." + name.removeprefix("keras.")).rsplit(".", 1)
        if hasattr(importlib.import_module(owner), attribute):
            present.append(name)
    assert not present, f"deepglass now has {present}: take them out of docs/differences.md's list"


def test_the_examples_section_lists_existing_pages_in_order_then_the_others(tmp_path):
    pytest.importorskip("mkdocs")
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "scripts" / "mkdocs_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    for name in ("b.md", "a.md", "extra.md"):
        (tmp_path / name).write_text("# page\n")
    listed = ["examples/b.md", "examples/missing.md", {"A": "examples/a.md"}]
    assert hooks._example_pages(listed, str(tmp_path)) == ["examples/b.md", {"A": "examples/a.md"},
                                                           "examples/extra.md"]
