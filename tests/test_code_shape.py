"""The package stays readable: no function longer than a screen."""

import ast

from conftest import ROOT

LONGEST = 60  # lines, docstring and signature included


def test_no_function_of_the_package_is_longer_than_60_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in sorted((ROOT / "src").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > LONGEST
    ]
    assert not long, "split these: " + "; ".join(long)
