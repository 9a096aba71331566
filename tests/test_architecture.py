"""The rules of docs/architecture.md that a reader of the code can check, checked.

- Only zones.py decides visibility: no visibility, moderation, zone or staff test elsewhere
  (the audit's own reading of the rules, kept apart on purpose, excepted).
- One definition of each zone and scope name (scopes.py).
- Render never imports mail, inbound mail never imports render, the build never imports
  mail, and the audit imports neither render nor zones.
- No import circle between the modules of the package.
- build() reads top to bottom in under 150 lines.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import extranet

PACKAGE = Path(extranet.__file__).parent
DECISIONS = re.compile(r"visibility\s*[!=]=|\.pending\b|\bzone\s*[!=]=\s*(MIXED|INTERNAL)|(MIXED|INTERNAL)\s*[!=]=\s*zone"
                       r"|\.org\s*[!=]=\s*(settings|self\.settings|site\.settings)\.org")  # (is_staff() asks zones)
ALLOWED = {"zones.py", "audit/expect.py"}  # the rules, and the audit's deliberate second reading


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = ["extranet", *rel.parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path) -> set[str]:
    """The modules of the package that `name` imports at module level or in functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("extranet"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("extranet"):
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)
    known = modules()
    return {m for m in found if m in known and m != name}


def test_no_visibility_decision_outside_zones() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in ALLOWED:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if DECISIONS.search(code):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == []


def test_one_definition_of_each_zone_and_scope_name() -> None:
    names = re.compile(r"^(INTERNAL|MIXED|ZONES|SITE_SCOPE|PERSON_SCOPE)\s*=", re.M)
    defined = {path.relative_to(PACKAGE).as_posix(): names.findall(path.read_text(encoding="utf-8"))
               for path in PACKAGE.rglob("*.py")}
    assert {f for f, found in defined.items() if found} == {"scopes.py"}


def test_the_stages_keep_their_edges() -> None:
    graph = {name: imports(name, path) for name, path in modules().items()}

    def reaches(name: str, prefix: str) -> list[str]:
        return sorted(m for m in graph[name] if m == prefix or m.startswith(prefix + "."))

    for name in graph:
        if name.startswith("extranet.render"):
            assert reaches(name, "extranet.mail") == [], name
        if name.startswith("extranet.mail.inbound"):
            assert reaches(name, "extranet.render") == [], name
        if name.startswith("extranet.audit"):
            assert reaches(name, "extranet.render") == [] and reaches(name, "extranet.zones") == [], name
    assert reaches("extranet.build", "extranet.mail") == []


def test_no_import_circle() -> None:
    graph = {name: {m for m in imports(name, path)} for name, path in modules().items()}
    # a package's __init__ importing its own modules is not a circle between modules
    graph = {name: {m for m in deps if not name.startswith(m + ".") and not m.startswith(name + ".")}
             for name, deps in graph.items()}
    circles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                circles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


def test_the_build_reads_in_one_sitting() -> None:
    assert len((PACKAGE / "build.py").read_text(encoding="utf-8").splitlines()) < 150
