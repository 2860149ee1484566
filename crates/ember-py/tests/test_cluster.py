"""The same Python script run as two processes (SparkConf's `ember.cluster.hosts` and
`ember.cluster.process`, the Python form of the CLI's `--hosts`/`--process`): the driver
(process 0) receives the socket and prints each batch's counts, the workers of both processes
run the Python functions, and every word is counted once."""

import os
import socket
import subprocess
import sys
import textwrap
import threading

HANG_GUARD_S = 180

SCRIPT = textwrap.dedent('''
    import sys
    from operator import add
    from ember import SparkConf, SparkContext
    from ember.streaming import StreamingContext

    hosts, process, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    conf = (SparkConf().setMaster("local[2]").setAppName("cluster-test")
            .set("ember.cluster.hosts", hosts).set("ember.cluster.process", process))
    sc = SparkContext(conf=conf)
    ssc = StreamingContext(sc, 0.5)
    words = ssc.socketTextStream("127.0.0.1", port).flatMap(lambda l: l.split(" "))
    counts = words.map(lambda w: (w.upper(), 1)).reduceByKey(add)
    counts.foreachRDD(lambda rdd: print("BATCH", sum(v for _, v in rdd.collect()),
                                        sorted(rdd.collect()), flush=True))
    ssc.start()
    ssc.awaitTerminationOrTimeout(float(sys.argv[4]))
    ssc.stop()
''')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_count_every_word_once(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    lines = [b"to be or not to be\n"] * 200

    def serve():
        conn, _ = server.accept()
        conn.sendall(b"".join(lines))
        threading.Event().wait(HANG_GUARD_S)  # keep the connection open, as nc -lk does

    threading.Thread(target=serve, daemon=True).start()
    script = tmp_path / "cluster_wordcount.py"
    script.write_text(SCRIPT)
    hosts = "127.0.0.1:%d,127.0.0.1:%d" % (free_port(), free_port())
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    procs = [subprocess.Popen([sys.executable, str(script), hosts, str(p), str(port), "8"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for p in (0, 1)]
    try:
        outs = [p.communicate(timeout=HANG_GUARD_S) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    server.close()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    driver = [l for l in outs[0][0].splitlines() if l.startswith("BATCH")]
    assert sum(int(l.split()[1]) for l in driver) == 6 * len(lines)
    assert not [l for l in outs[1][0].splitlines() if l.startswith("BATCH")]
    totals = {}
    for l in driver:
        for word, n in eval(l.split(" ", 2)[2]):
            totals[word] = totals.get(word, 0) + n
    assert totals == {"TO": 400, "BE": 400, "OR": 200, "NOT": 200}
