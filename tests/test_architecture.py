"""The layout is the architecture: each package imports only the packages it is allowed to, and none imports a
higher one.

    parsers  →  storage  →  registry  →  crawler | monitor | demo  →  web  →  cli

An explicit allow-list per package, not a layer number: the web app shows verdicts and archived bytes (monitor,
storage) and never imports the crawler or the demo, though they sit below it; the crawler does not judge, the
monitor does not crawl. Every import is counted, including those inside functions: a lazy import is still a
dependency.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what each package may import of ours (besides itself)
ALLOWED = {
    "parsers": set(),
    "storage": {"parsers"},
    "registry": {"parsers", "storage"},
    "crawler": {"parsers", "storage", "registry"},
    "monitor": {"parsers", "storage", "registry"},
    "demo": {"parsers", "registry"},                   # builds portals and their registry; archives nothing
    "web": {"parsers", "storage", "registry", "monitor"},
    "cli": {"parsers", "storage", "registry", "crawler", "monitor", "demo", "web"},
}
# parsers are pure: bytes in, records out; no network, database or crawler framework
PARSERS_MUST_NOT_IMPORT = {"sqlalchemy", "psycopg", "httpx", "requests", "scrapy", "twisted", "minio", "socket",
                           "urllib.request", "playwright", "redis", "alembic"}


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def package_files(package: str, root: Path = ROOT) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for package, allowed in ALLOWED.items():
        for path in package_files(package, root):
            for line, module in imports_of(path):
                target = module.split(".")[0]
                if target == package or target not in ALLOWED:
                    continue
                if target not in allowed:
                    found.append(f"{path.relative_to(root)}:{line}: {package} imports {module} "
                                 f"(allowed: {', '.join(sorted(allowed)) or 'nothing of ours'})")
    return found


def test_every_package_of_the_layout_exists():
    for package in ALLOWED:
        assert (ROOT / package / "__init__.py").is_file(), package


def test_the_allow_lists_point_one_way():
    """No cycle hides in the lists: a package never allows one that allows it back, directly or through others."""
    def reachable(package: str, seen: frozenset = frozenset()) -> set[str]:
        found = set()
        for target in ALLOWED[package] - seen:
            found |= {target} | reachable(target, seen | {package})
        return found

    assert [package for package in ALLOWED if package in reachable(package)] == []


def test_no_package_imports_outside_its_allow_list():
    assert violations() == []


def test_the_check_sees_a_lazy_upward_import_a_sibling_import_and_the_web_importing_the_crawler(tmp_path):
    """The checker itself: an import of ``web`` inside a function of ``parsers`` is found, so is the crawler
    importing the monitor, and so is the web app importing the crawler or the demo (lower packages, not its own)."""
    fake = tmp_path / "parsers"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "bad.py").write_text("def f():\n    from web.app import create_app\n    return create_app\n")
    (tmp_path / "crawler").mkdir()
    (tmp_path / "crawler" / "__init__.py").write_text("import monitor.verdicts\n")
    found = violations(tmp_path)
    assert any("parsers/bad.py:2" in line and "web.app" in line for line in found)
    assert any("crawler/__init__.py:1" in line and "monitor.verdicts" in line for line in found)
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "labels.py").write_text(
        "import monitor.labels\nimport crawler\nfrom demo.shapes import DemoSite\n")
    found = violations(tmp_path)
    assert [line for line in found if line.startswith("web/")] == [
        "web/labels.py:2: web imports crawler (allowed: monitor, parsers, registry, storage)",
        "web/labels.py:3: web imports demo.shapes (allowed: monitor, parsers, registry, storage)"]


@pytest.mark.parametrize("path", package_files("parsers"), ids=lambda path: str(path.relative_to(ROOT)))
def test_parsers_stay_pure(path):
    bad = [(line, module) for line, module in imports_of(path)
           if any(module == name or module.startswith(name + ".") for name in PARSERS_MUST_NOT_IMPORT)]
    assert bad == []


def test_every_declared_dependency_is_imported():
    """A dependency in pyproject.toml that no code imports is a lie in the README's dependency table."""
    import tomllib

    import_names = {"beautifulsoup4": "bs4", "python-docx": "docx", "psycopg[binary]": "psycopg",
                    "pyyaml": "yaml", "scrapy-playwright": "scrapy_playwright", "scrapy-redis": "scrapy_redis",
                    "charset-normalizer": "charset_normalizer", "python-multipart": "multipart",
                    "swagger-ui-bundle": "swagger_ui_bundle", "lxml_html_clean": "lxml_html_clean"}
    # needed at run time but imported by another package, not by our code
    imported_by_others = {"lxml_html_clean": "justext (trafilatura) imports lxml.html.clean",
                          "multipart": "FastAPI imports it to read form posts",
                          "psycopg": "SQLAlchemy loads it for postgresql+psycopg:// URLs",
                          "scrapy_redis": "Scrapy loads it from the SCHEDULER setting (crawler.settings.settings_for)"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    ours = [path for package in ALLOWED for path in package_files(package)]
    used = {module.split(".")[0] for path in ours for _line, module in imports_of(path)}
    unused = []
    for requirement in project["dependencies"]:
        name = requirement.split(">")[0].split("<")[0].split("=")[0].strip()
        module = import_names.get(name, name.replace("-", "_").lower())
        if module not in used and module not in imported_by_others:
            unused.append(name)
    assert unused == []


def _level_maps(path: Path) -> list[int]:
    """Lines of dict literals that map every agency level code to a Chinese name."""
    from parsers.record import LEVELS

    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Dict) and node.keys
            and {key.value for key in node.keys if isinstance(key, ast.Constant)} == set(LEVELS)
            and all(isinstance(value, ast.Constant) and isinstance(value.value, str)
                    and any("\u4e00" <= ch <= "\u9fff" for ch in value.value) for value in node.values)]


def _header_lookups(path: Path) -> list[int]:
    """Lines of a hand-written case-insensitive header lookup: a loop over (name, value) pairs comparing
    ``key.lower() == name`` and returning (parsers.headers.header_value is the one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for loop in ast.walk(tree):
        if not (isinstance(loop, ast.For) and isinstance(loop.target, ast.Tuple) and len(loop.target.elts) == 2):
            continue
        key = loop.target.elts[0]
        if not any(isinstance(node, ast.Return) for node in ast.walk(loop)):
            continue
        for node in ast.walk(loop):
            if (isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.Eq) and isinstance(node.left, ast.Call)
                    and isinstance(node.left.func, ast.Attribute) and node.left.func.attr == "lower"
                    and isinstance(node.left.func.value, ast.Name) and isinstance(key, ast.Name)
                    and node.left.func.value.id == key.id):
                found.append(node.lineno)
    return found


SHARED = {"a level → Chinese name map": (_level_maps, "monitor/labels.py"),
          "a case-insensitive header lookup": (_header_lookups, "parsers/headers.py")}


@pytest.mark.parametrize("what", SHARED)
def test_a_shared_helper_is_written_once(what):
    """One place each, not a copy per module: a second copy drifts (the web replay had its own header lookup, the
    deadlines their own level names)."""
    finder, home = SHARED[what]
    copies = [f"{path.relative_to(ROOT)}:{line}" for package in ALLOWED for path in package_files(package)
              if str(path.relative_to(ROOT)) != home for line in finder(path)]
    assert copies == []


def test_the_shared_helper_check_sees_a_copy(tmp_path):
    copy = tmp_path / "copy.py"
    copy.write_text('NAMES = {"department": "部门", "government": "政府", "township": "乡镇"}\n'
                    "def find(headers, name):\n    for key, value in headers:\n"
                    "        if key.lower() == name:\n            return value\n", encoding="utf-8")
    assert _level_maps(copy) == [1] and _header_lookups(copy) == [4]


def _module_map() -> list[tuple[str, set[str]]]:
    """The README's module map (the table under "Layout and data flow"): per row, the folder its first cell names
    and every backticked name in the row."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Layout and data flow", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        names = set(re.findall(r"`([^`]+)`", line))
        first = re.search(r"`([^`]+)`", line).group(1)
        folder = first if first.endswith("/") else first.rsplit("/", 1)[0] + "/"
        rows.append((folder, names))
    return rows


def _unmapped(rows: list[tuple[str, set[str]]], root: Path = ROOT) -> list[str]:
    missing = []
    for package in ALLOWED:
        for path in package_files(package, root):
            relative = path.relative_to(root).as_posix()
            if path.name == "__init__.py" or "/migrations/" in relative:  # the Alembic scripts: `catalog/` names them
                continue
            if not any(relative == name or relative.startswith(folder) and relative[len(folder):] == name
                       for folder, names in rows for name in names):
                missing.append(relative)
    return missing


def test_every_module_is_named_in_the_readme_module_map():
    """A newcomer finds a module by the map: a module the map does not name is one the map has drifted from."""
    assert _unmapped(_module_map()) == []


def test_the_module_map_check_sees_an_unnamed_module(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "app.py").write_text("")
    (tmp_path / "web" / "stray.py").write_text("")
    assert _unmapped([("web/", {"web/", "app.py"})], tmp_path) == ["web/stray.py"]
