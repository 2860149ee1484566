"""What the notebook and example tests run against: a line server like ``nc -lk``, a dropper
that moves text files into a watched directory atomically, a Jupyter kernel of the Python that
runs pytest, and readers of pprint blocks and Spark tables in captured output."""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# -- a server like `nc -lk` ----------------------------------------------------------------


class LineServer:
    """Serves ``line`` every ``interval`` seconds to each client, on 127.0.0.1 and a free port,
    accepting clients again and again (the notebook's programs 1 and 2 connect one after the
    other, as they would to ``nc -lk``)."""

    def __init__(self, line: str = "hello world hello", interval: float = 0.1):
        self.payload = (line + "\n").encode()
        self.interval = interval
        self.clients = 0
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="line-server", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.clients += 1
            threading.Thread(target=self._feed, args=(conn,), daemon=True).start()

    def _feed(self, conn):
        with conn:
            while not self._stop.is_set():
                try:
                    conn.sendall(self.payload)
                except OSError:
                    return  # the program stopped and closed its end
                time.sleep(self.interval)


# -- files that appear in a directory ------------------------------------------------------


BOOK_LINE = "it was the best of times"
BOOK_WORDS = tuple(BOOK_LINE.split(" "))


class BookDropper:
    """Moves a new one-line file into ``directory`` every ``interval`` seconds while ``active``:
    written in a staging folder on the same file system first, then ``os.rename``d in, so a
    file stream never sees a half-written file. Removes the files it made on exit."""

    def __init__(self, directory: Path, interval: float = 1.0, active: bool = True):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.interval = interval
        self.active = active
        self.dropped: list[Path] = []
        # Beside the watched directory, so that the rename stays on one file system.
        self._staging = self.directory.parent / (".%s-staging-%d" % (self.directory.name,
                                                                     os.getpid()))
        self._staging.mkdir(exist_ok=True)
        self._stop = threading.Event()
        self._names = itertools.count()
        self._thread = threading.Thread(target=self._run, name="book-dropper", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        for path in self.dropped:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        try:
            self._staging.rmdir()
        except OSError:
            pass

    def _run(self):
        while not self._stop.wait(self.interval):
            if self.active:
                self.drop()

    def drop(self) -> Path:
        name = "ember-test-%d-%d.txt" % (os.getpid(), next(self._names))
        staged = self._staging / name
        staged.write_text(BOOK_LINE + "\n")
        target = self.directory / name
        os.rename(staged, target)
        self.dropped.append(target)
        return target


# -- the Python that runs the tests, as a Jupyter kernel -----------------------------------


def ember_python_path() -> str:
    """PYTHONPATH that finds the ``ember`` this process imports, then the current one."""
    import ember

    package_root = str(Path(ember.__file__).resolve().parent.parent)
    rest = os.environ.get("PYTHONPATH", "")
    return package_root + (os.pathsep + rest if rest else "")


def write_kernel_spec(root: Path) -> Path:
    """A kernelspec folder holding ``python3``: ``sys.executable`` (the venv running pytest)
    with ipykernel, seeing the same ``ember`` (PYTHONPATH) as this process.

    ``capture_fd_output=False`` keeps what is written to file descriptors 1 and 2 out of the
    cells' outputs (ipykernel copies them there by default): output reaches a cell only
    through Python's ``sys.stdout``, as issue 10 asks of pprint and show.
    """
    spec_dir = root / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.capture_fd_output=False"],
        "display_name": "Python 3 (ember tests)",
        "language": "python",
        "env": {"PYTHONPATH": ember_python_path()},
        "interrupt_mode": "signal",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return root / "kernels"


def kernel_manager(kernel_dirs: Path, cls=None):
    """A kernel manager for the ``python3`` spec in ``kernel_dirs`` only (never one that some
    other Jupyter install registered)."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    cls = cls or AsyncKernelManager
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dirs)], ensure_native_kernel=False)
    return cls(kernel_name="python3", kernel_spec_manager=specs)


class KernelSession:
    """Runs code in a live kernel cell by cell, so a test can act while a cell runs (interrupt
    it). Every wait has a deadline."""

    def __init__(self, km, cwd: Path, startup_s: float = 60):
        self.km = km
        km.start_kernel(cwd=str(cwd))
        self.kc = km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=startup_s)

    def close(self):
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)

    def submit(self, code: str) -> "CellRun":
        return CellRun(self, self.kc.execute(code))

    def run(self, code: str, timeout: float = 120) -> "CellRun":
        cell = self.submit(code)
        cell.wait(timeout)
        return cell


@dataclass
class CellRun:
    session: KernelSession
    msg_id: str
    stdout: str = ""
    stderr: str = ""
    error: dict | None = None
    done: bool = False
    _pending: list = field(default_factory=list)

    def wait(self, timeout: float, until=None) -> bool:
        """Reads this cell's output until it finishes or ``until(self)`` holds; returns which
        one happened. Fails when ``timeout`` passes first."""
        import queue

        deadline = time.monotonic() + timeout
        while not self.done:
            if until is not None and until(self):
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    "hang guard: cell did not finish within %.0f s; output so far:\n%s\n%s"
                    % (timeout, self.stdout, self.stderr))
            try:
                msg = self.session.kc.get_iopub_msg(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != self.msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    self.stdout += content["text"]
                else:
                    self.stderr += content["text"]
            elif kind == "error":
                self.error = content
            elif kind == "status" and content["execution_state"] == "idle":
                self.done = True
        return True

    def traceback(self) -> str:
        if not self.error:
            return ""
        return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(self.error.get("traceback", [])))


# -- reading what the programs printed -----------------------------------------------------

_PPRINT_BLOCK = re.compile(
    r"-{43}\nTime: (?P<time>[^\n]+)\n-{43}\n(?P<body>(?:[^\n]+\n)*?)\n")


@dataclass
class PprintBlock:
    time: str
    records: list


def pprint_blocks(text: str) -> list[PprintBlock]:
    """The blocks DStream.pprint printed, records read back with ``ast.literal_eval``."""
    blocks = []
    for m in _PPRINT_BLOCK.finditer(text):
        records = [ast.literal_eval(line) if line[:1] in "([{'\"0123456789-" else line
                   for line in m.group("body").splitlines() if line != "..."]
        blocks.append(PprintBlock(m.group("time"), records))
    return blocks


_TABLE = re.compile(r"(?P<border>\+[-+]+\+)\n(?P<header>\|[^\n]*\|)\n(?P=border)\n"
                    r"(?P<rows>(?:\|[^\n]*\|\n)*)(?P=border)\n")


def spark_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Tables printed by DataFrame.show: (header cells, rows of cells), cells stripped."""
    def cells(line):
        return [c.strip() for c in line.strip("|").split("|")]

    return [(cells(m.group("header")), [cells(r) for r in m.group("rows").splitlines()])
            for m in _TABLE.finditer(text)]
