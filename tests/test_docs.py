"""Documentation never points at nothing: every relative link and #anchor in the Markdown files, and every Markdown
file (and #anchor) a config, rule or code comment names, resolves."""

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

from conftest import ROOT

FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# a Markdown file named in a comment or string (not a product path such as {RESULTS}/x.md), with an optional #anchor
# or a section named in quotes after it (README.md, "Where things are")
MENTION = re.compile(r"(?<![\w/.{}-])((?:\.\./)?[\w-]+(?:/[\w.-]+)*\.md)(?:#([\w-]+)|, \"([^\"]+)\")?")


def tracked(*patterns: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / line for line in listed.stdout.splitlines()]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but - and _ dropped, spaces as hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(markdown: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", markdown.read_text()), re.M):
        base = slug(heading)
        out.add(f"{base}-{seen[base]}" if base in seen else base)
        seen[base] = seen.get(base, 0) + 1
    return frozenset(out)


def unresolved(target: str, anchor: str, folders: list[Path]) -> str | None:
    """Why `target` (a file, relative to one of `folders`) with `#anchor` does not resolve, or None."""
    files = [folder / target for folder in folders if (folder / target).exists()]
    if not files:
        return f"{target}: no such file"
    if anchor and files[0].suffix == ".md" and anchor not in anchors(files[0].resolve()):
        return f"{target}#{anchor}: no such heading"
    return None


@pytest.mark.parametrize("markdown", tracked("*.md"), ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_links_resolve(markdown):
    text = CODE_SPAN.sub("", FENCE.sub("", markdown.read_text()))
    broken = []
    for link in LINK.findall(text):
        if re.match(r"[a-z]+:", link):  # https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        problem = unresolved(target, anchor, [markdown.parent]) if target else None
        if not target and anchor not in anchors(markdown):
            problem = f"#{anchor}: no such heading"
        broken += [problem] if problem else []
    assert not broken, f"{markdown.relative_to(ROOT)}: {broken}"


def test_files_named_in_configs_rules_and_code_resolve():
    sources = [path for path in tracked("*.yaml", "*.smk", "Snakefile", "*.py", "*.toml", ".ci/run") if "tests" not in path.parts]
    broken = []
    for source in sources:
        for target, anchor, section in MENTION.findall(source.read_text()):
            problem = unresolved(target, anchor or slug(section), [ROOT, source.parent])
            broken += [f"{source.relative_to(ROOT)}: {problem}"] if problem else []
    assert not broken


def test_the_changelogs_newest_version_is_the_packages():
    import tomllib

    newest = re.search(r"^## (\S+) \(\d{4}-\d{2}-\d{2}\)$", (ROOT / "CHANGELOG.md").read_text(), re.M).group(1)
    assert newest == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
