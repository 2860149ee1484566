"""The seed notebook as ember runs it: the PySpark notebook of ``../shared/reference`` turned into
an ``.ipynb`` whose only changes are ``pyspark`` -> ``ember`` in its import lines and the value of
its ``PORT`` cell.

The seed is stored in jupytext's markdown format. It is parsed here with a small reader of that
format (fenced ```` ```python ```` blocks are code cells, the rest is markdown) built on nbformat
alone, so running the notebook needs no jupytext install; ``test_notebook.py`` cross-checks the
reader against jupytext when jupytext is installed.

Used by ``test_notebook.py``; also a command line for trying the notebook by hand::

    python crates/ember-py/tests/notebook/seed_notebook.py -o /tmp/seed-ember.ipynb --port 9999
    jupyter nbconvert --execute --to notebook /tmp/seed-ember.ipynb   # with a server on 9999

The seed is found in ``$EMBER_SHARED/reference`` (``EMBER_SHARED`` defaults to the ``shared``
folder beside the repository).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

SEED_NAME = "seed-notebook-spark-streaming.md"

# `from pyspark...`/`import pyspark...` at the start of a line: only the module's first name
# changes (`from pyspark.sql import Row` -> `from ember.sql import Row`).
_IMPORT_LINE = re.compile(r"^(?P<head>\s*(?:from|import)\s+)pyspark(?P<tail>(?:[.\s,]|$).*)$")
# The notebook's `PORT=9999 # Change this to a unique port before running individually`.
_PORT_LINE = re.compile(r"^(?P<head>PORT\s*=\s*)\d+(?P<tail>.*)$")
_FENCE_OPEN = re.compile(r"^```(?P<lang>[A-Za-z0-9_+-]*)(?P<rest>.*)$")
_REGION = re.compile(r"^<!--\s*#(?:end)?region\b.*-->\s*$")


@dataclass(frozen=True)
class Change:
    """One line the conversion changed, for the test's check that nothing else changed."""

    cell: int
    before: str
    after: str


def repo_root() -> Path:
    """The repository this file lives in (the folder holding ``crates/ember-py``)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "crates" / "ember-py").is_dir():
            return parent
    raise RuntimeError("%s is not inside the ember repository" % here)


def shared_dir() -> Path:
    """``$EMBER_SHARED``, or the ``shared`` folder beside the repository."""
    configured = os.environ.get("EMBER_SHARED")
    return Path(configured) if configured else repo_root().parent / "shared"


def seed_path() -> Path:
    path = shared_dir() / "reference" / SEED_NAME
    if not path.is_file():
        raise FileNotFoundError(
            "seed notebook not found at %s; set EMBER_SHARED to the folder holding "
            "reference/%s" % (path, SEED_NAME))
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A port the system hands out as free right now (an ephemeral port)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def read_jupytext_markdown(text: str) -> nbformat.NotebookNode:
    """A notebook from jupytext's markdown format: the YAML header is dropped (its kernelspec is
    the standard ``python3``), each ```` ```python ```` fence is a code cell, and the text between
    fences is markdown, cut at jupytext's ``<!-- #region -->`` markers."""
    lines = text.splitlines()
    if lines and lines[0].strip() == "---":
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
        lines = lines[end + 1:]

    cells = []
    markdown: list[str] = []

    def flush_markdown():
        body = "\n".join(markdown).strip("\n")
        if body.strip():
            cells.append(nbformat.v4.new_markdown_cell(body))
        markdown.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE_OPEN.match(line)
        if fence and fence.group("lang") == "python":
            flush_markdown()
            j = i + 1
            while j < len(lines) and lines[j].rstrip() != "```":
                j += 1
            if j == len(lines):
                raise ValueError("unclosed ```python fence at line %d" % (i + 1))
            cells.append(nbformat.v4.new_code_cell("\n".join(lines[i + 1:j])))
            i = j + 1
            continue
        if _REGION.match(line.strip()):
            flush_markdown()
        else:
            markdown.append(line)
        i += 1
    flush_markdown()

    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python",
                                 "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def to_ember(nb: nbformat.NotebookNode, port: int) -> tuple[nbformat.NotebookNode, list[Change]]:
    """The notebook with ``pyspark`` -> ``ember`` in its import lines and ``PORT`` set to
    ``port``; nothing else changes. Returns the changed lines too."""
    changes: list[Change] = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        out = []
        for line in cell.source.split("\n"):
            new = line
            m = _IMPORT_LINE.match(line)
            if m:
                new = m.group("head") + "ember" + m.group("tail")
            # The notebook says "Change this to a unique port before running individually":
            # the only edit besides the imports, so that the test's own server (bound to a free
            # ephemeral port) is the one the programs read, never someone else's 9999.
            m = _PORT_LINE.match(line)
            if m:
                new = m.group("head") + str(int(port)) + m.group("tail")
            if new != line:
                changes.append(Change(index, line, new))
            out.append(new)
        cell.source = "\n".join(out)
    return nb, changes


def build(port: int, seed: Path | None = None) -> tuple[nbformat.NotebookNode, list[Change]]:
    """The ember notebook made from the seed (``seed_path()`` unless given)."""
    text = Path(seed or seed_path()).read_text(encoding="utf-8")
    nb = read_jupytext_markdown(text)
    return to_ember(nb, port)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", required=True, help="the .ipynb to write")
    parser.add_argument("--port", type=int, default=None,
                        help="value for the notebook's PORT cell (default: a free ephemeral port)")
    parser.add_argument("--seed", default=None, help="the seed notebook (jupytext markdown)")
    args = parser.parse_args(argv)
    port = args.port if args.port is not None else free_port()
    nb, changes = build(port, Path(args.seed) if args.seed else None)
    nbformat.validate(nb)
    nbformat.write(nb, args.output)
    for c in changes:
        print("cell %d: %s  ->  %s" % (c.cell, c.before, c.after), file=sys.stderr)
    print("wrote %s (PORT=%d)" % (args.output, port), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
