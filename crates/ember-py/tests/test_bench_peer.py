"""PySpark's own benchmark program (`shared/bench/peers/pyspark_dstream.py`), with only its
imports changed to ember, run by the shared harness on the 10 MB corpus for W1, W2 and W3: every
word counted exactly once (the harness stops at the exact corpus total and reports an overcount).

The harness runs the program as the other engines (bench/engines.toml, engine `ember-py`), with
this test's Python as `$EMBER_PYTHON`."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
SHARED = pathlib.Path(os.environ.get("EMBER_SHARED", REPO.parent / "shared"))
BENCH = SHARED / "bench"


@pytest.fixture(scope="module")
def peers(tmp_path_factory):
    peers = tmp_path_factory.mktemp("peers")
    env = dict(os.environ, PEERS=str(peers))
    subprocess.run([sys.executable, str(BENCH / "gen_corpus.py"), "--mb", "10", "--parts", "10"],
                   check=True, env=env, stdout=subprocess.DEVNULL, timeout=300)
    return peers


@pytest.mark.parametrize("workload", ["w1", "w2", "w3"])
def test_pyspark_peer_counts_every_word_once(peers, tmp_path, workload):
    env = dict(os.environ, PEERS=str(peers), EMBER_PYTHON=sys.executable)
    results = tmp_path / "runs.jsonl"
    run = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--config", str(REPO / "bench" / "engines.toml"),
         "--engine", "ember-py", "--workload", workload, "--size", "10", "--timeout", "400",
         "--results", str(results)],
        env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    line = json.loads(results.read_text().strip().splitlines()[-1])
    meta = json.loads((peers / "data" / "corpus-10mb.meta.json").read_text())
    words = meta["words"]
    assert line["status"] == "ok", line
    assert line["final_cum"] == line["target"] == words
