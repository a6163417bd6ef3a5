"""Which package code a rule's script runs, as a digest that Snakemake tracks through `params:`.

Snakemake re-runs a job when its `script:` file changes, not when the package code that the script
imports changes. `code_digest(script)` follows the script's imports of this package, transitively,
and hashes their syntax trees without docstrings: an edit that changes what the code does re-runs
exactly the rules whose scripts run it, while comments, formatting and docstrings re-run nothing.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name


def module_file(module: str) -> Path | None:
    """The source file of a module of this package (`xlretrieval.data.lareqa`), or None if it is not one."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    path = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(tree: ast.AST, module: str = "", is_package: bool = False) -> set[str]:
    """Modules of this package that `tree` (the code of `module`) imports, with their parent packages."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    with_parents = {".".join(name.split(".")[:i]) for name in found for i in range(1, name.count(".") + 2)}
    return {name for name in with_parents if module_file(name)}


def without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def code_digest(script: str | Path) -> str:
    """A short hash of the package code that `script` imports, directly or through other modules."""
    pending = sorted(imported_modules(ast.parse(Path(script).read_text())))
    trees: dict[str, str] = {}
    while pending:
        module = pending.pop()
        if module in trees:
            continue
        path = module_file(module)
        tree = ast.parse(path.read_text())
        trees[module] = ast.dump(without_docstrings(tree))
        pending.extend(imported_modules(tree, module, path.name == "__init__.py") - trees.keys())
    digest = hashlib.sha256()
    for module in sorted(trees):
        digest.update(f"{module}\n{trees[module]}\n".encode())
    return digest.hexdigest()[:16]
