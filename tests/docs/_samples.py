"""The code samples of the documentation, as a reader sees them: every fenced block of every
page under docs/, with the files that ``--8<--`` lines include already in place.

How a Python block is run (tests/docs/test_samples.py):

- ``title="name.py"``: a file the reader saves. All of a page's files are written to one
  directory, in page order, before anything on the page runs.
- ``title="test_name.py"``: a test file: pytest runs it in that directory.
- no title: a script, run with ``python`` in that directory; it must exit 0.
- preceded by ``<!-- not-run: reason -->``: an illustration, not run (keep these rare).
- a block that only includes (part of) an example, ``--8<-- "examples/name.py:section"``, is
  code that tests/examples/test_name.py runs; without a title it is not run again here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>.*)$")
_TITLE = re.compile(r'title="(?P<title>[^"]*)"')
_NOT_RUN = re.compile(r"^\s*<!--\s*not-run:\s*(?P<reason>.+?)\s*-->\s*$")
_SNIPPET = re.compile(r'^(?P<indent>[ \t]*)--8<--[ \t]+"(?P<path>[^"]+)"[ \t]*$')
_SECTION = re.compile(r"--8<--\s*\[(?P<kind>start|end):(?P<name>[\w-]+)\]")
PYTHON = frozenset(("python", "py", "python3"))


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str  # relative to docs/, e.g. "guides/testing.md"
    line: int  # where the opening fence is, from 1
    language: str
    title: str | None
    code: str  # with included files expanded
    not_run: str | None  # the reason, for an illustration
    included: str | None = None  # the file, when the block is one ``--8<--`` line and no more

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}" + (f":{self.title}" if self.title else "")

    @property
    def is_python(self) -> bool:
        return self.language in PYTHON

    @property
    def example(self) -> str | None:
        """The example (``examples/name.py``) this block shows, when that is all it is."""
        if self.included is not None and self.included.startswith("examples/"):
            return self.included.partition(":")[0]
        return None

    @property
    def is_file(self) -> bool:
        return self.title is not None and not Path(self.title).name.startswith("test_")

    @property
    def is_test(self) -> bool:
        return self.title is not None and Path(self.title).name.startswith("test_")


def include(spec: str) -> str:
    """What a ``--8<-- "path"`` or ``--8<-- "path:section"`` line stands for."""
    path, _, section = spec.partition(":")
    text = (ROOT / path).read_text()
    if not section:
        return text
    lines, inside = [], False
    for line in text.splitlines(keepends=True):
        marker = _SECTION.search(line)
        if marker and marker.group("name") == section:
            inside = marker.group("kind") == "start"
            continue
        if inside and not _SECTION.search(line):
            lines.append(line)
    if not lines:
        raise ValueError(f"no section {section!r} in {path}")
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "".join(line[indent:] if line.strip() else line for line in lines)


def _expand(code: str) -> str:
    out = []
    for line in code.splitlines(keepends=True):
        match = _SNIPPET.match(line)
        out.append(include(match.group("path")) if match else line)
    return "".join(out)


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``."""
    lines = page.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"]
        language = info.split()[0].lstrip(".{").lower() if info.split() else ""
        title = _TITLE.search(info)
        end = index + 1
        body: list[str] = []
        while end < len(lines):
            closing = lines[end]
            if closing.strip().startswith(fence) and closing.strip().strip(fence[0]) == "":
                break
            body.append(closing[len(indent) :] if closing.startswith(indent) else closing.lstrip())
            end += 1
        previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        not_run = _NOT_RUN.match(previous)
        content = [line for line in body if line.strip()]
        only = _SNIPPET.match(content[0]) if len(content) == 1 else None
        found.append(
            Block(
                page=page.relative_to(DOCS).as_posix(),
                line=index + 1,
                language=language,
                title=title["title"] if title else None,
                code=_expand("\n".join(body) + "\n"),
                not_run=not_run["reason"] if not_run else None,
                included=only["path"] if only else None,
            )
        )
        index = end + 1
    return found


def pages() -> list[Path]:
    return sorted(path for path in DOCS.rglob("*.md") if "_ext" not in path.parts)


def python_blocks() -> list[Block]:
    return [block for page in pages() for block in blocks(page) if block.is_python]
