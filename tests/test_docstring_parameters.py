"""A numpydoc Parameters section names every parameter of its function, and only those."""

import ast
import re
from pathlib import Path

import temseg

SRC = Path(temseg.__file__).parent
_HEADING = re.compile(r"^\s*-{3,}\s*$")
_ENTRY = re.compile(r"^\*{0,2}[A-Za-z_]\w*(\s*,\s*\*{0,2}[A-Za-z_]\w*)*,?(\s*:.*)?$")


def _documented(doc: str) -> list[str] | None:
    """The names a docstring's Parameters section lists, or None without one."""
    lines = doc.expandtabs().splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == "Parameters" and _HEADING.match(lines[i + 1]):
            body = []
            for j in range(i + 2, len(lines)):
                if j + 1 < len(lines) and lines[j].strip() and _HEADING.match(lines[j + 1]):
                    break  # the next section
                body.append(lines[j])
            entries = [t for t in body if t.strip()]
            indent = min((len(t) - len(t.lstrip()) for t in entries), default=0)
            names = []
            for text in entries:
                if len(text) - len(text.lstrip()) == indent and _ENTRY.match(text.strip()):
                    head = text.strip().split(":")[0]
                    names += [n.strip().lstrip("*") for n in head.split(",") if n.strip()]
            return names
    return None


def _signature(node) -> list[str]:
    if isinstance(node, ast.ClassDef):
        init = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
        if not init:  # a dataclass: its fields
            return [n.target.id for n in node.body
                    if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
        node = init[0]
    a = node.args
    names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
    names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    return [n for n in names if n not in ("self", "cls")]


def test_parameters_sections_match_the_signatures():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                continue
            doc = ast.get_docstring(node)
            documented = _documented(doc) if doc else None
            if documented is None:
                continue
            signature = _signature(node)
            missing = [n for n in signature if n not in documented]
            extra = [n for n in documented if n not in signature]
            if missing or extra:
                wrong.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: "
                             f"undocumented {missing}, not parameters {extra}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_a_missing_parameter():
    doc = "Do it.\n\nParameters\n----------\nimage : ndarray\n    The image.\n"
    node = ast.parse("def f(image, *, sampling=None):\n    pass\n").body[0]
    assert _documented(doc) == ["image"] and _signature(node) == ["image", "sampling"]
