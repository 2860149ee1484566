"""The DStream API on real batches: transformations, state, windows, inputs, lifecycle."""

import operator
import os
import socket
import threading
import time

import pytest

from ember.sql import Row
from ember.streaming import StreamingContext


def test_word_count_chain_is_pysparks(ssc, collect):
    s = ssc()
    lines = s.queueStream([["a b a", "c"], ["b b"]])
    counts = lines.flatMap(lambda l: l.split(" ")).map(lambda w: (w, 1)) \
        .reduceByKey(lambda a, b: a + b)
    out = collect(counts)
    s.start()
    assert out.wait(3) == [[("a", 2), ("b", 1), ("c", 1)], [("b", 2)], []]


def test_native_add_and_python_reduce_agree(ssc, collect):
    s = ssc()
    pairs = s.queueStream([[("x", 1), ("y", 2.5), ("x", 3)]]).map(lambda kv: kv)
    fast = collect(pairs.reduceByKey(operator.add))
    slow = collect(pairs.reduceByKey(lambda a, b: a + b))
    s.start()
    assert fast.wait(1) == slow.wait(1) == [[("x", 4), ("y", 2.5)]]


def test_values_keep_their_python_types(ssc, collect):
    s = ssc()
    weird = [None, True, 2**70, 1.5, b"raw", ("t", [1, 2]), {"d": 1}, Row(word="w"), "s", -3]
    out = collect(s.queueStream([weird], oneAtATime=True).map(lambda x: x), sort=False)
    s.start()
    got = out.wait(1)[0]
    assert sorted(map(repr, got)) == sorted(map(repr, weird))
    row = next(x for x in got if isinstance(x, Row))
    assert row.word == "w"
    assert next(x for x in got if isinstance(x, int) and x > 2**64) == 2**70


def test_update_state_by_key_with_initial_rdd_and_deletion(sc, ssc, collect):
    s = ssc()
    s.checkpoint(os.path.join(os.environ.get("TMPDIR", "/tmp"), "ember-test-ckpt-%d" % os.getpid()))

    def update(new_values, last):
        total = sum(new_values) + (last or 0)
        return None if total >= 5 else total

    initial = sc.parallelize([("hello", 1), ("world", 1)])
    words = s.queueStream([["hello", "x"], ["hello", "hello"], ["x"]])
    state = words.map(lambda w: (w, 1)).updateStateByKey(update, initialRDD=initial)
    out = collect(state)
    s.start()
    assert out.wait(3) == [
        [("hello", 2), ("world", 1), ("x", 1)],
        [("hello", 4), ("world", 1), ("x", 1)],
        [("hello", 4), ("world", 1), ("x", 2)],
    ]


def test_initial_state_given_as_a_list(ssc, collect):
    s = ssc()
    s.checkpoint(os.path.join(os.environ.get("TMPDIR", "/tmp"), "ember-test-ckpt2-%d" % os.getpid()))
    state = s.queueStream([[("a", 1)]]).updateStateByKey(
        lambda vs, last: sum(vs) + (last or 0), initialRDD=[("a", 10), ("b", 1)])
    out = collect(state)
    s.start()
    assert out.wait(2) == [[("a", 11), ("b", 1)], [("a", 11), ("b", 1)]]


def test_windows_check_their_arguments_at_the_call(ssc):
    s = ssc(1)
    stream = s.queueStream([[1]])
    with pytest.raises(ValueError, match=r"windowDuration must be multiple of the parent "
                                         r"dstream's slide \(batch\) duration \(1000 ms\)"):
        stream.window(1.5, 1)
    with pytest.raises(ValueError, match="slideDuration must be multiple"):
        stream.map(lambda x: (x, 1)).reduceByKeyAndWindow(operator.add, None, 2, 1.5)


def test_count_by_window_counts_the_last_batches(ssc, collect):
    s = ssc(0.2)
    s.checkpoint(os.path.join(os.environ.get("TMPDIR", "/tmp"), "ember-test-ckpt3-%d" % os.getpid()))
    counts = s.queueStream([[1, 2], [3], [4, 5, 6]]).countByWindow(0.4, 0.2)
    out = collect(counts)
    s.start()
    assert out.wait(4) == [[2], [3], [4], [3]]


def test_transform_takes_one_or_two_arguments(ssc, collect):
    s = ssc()
    stream = s.queueStream([[3, 1, 2]])
    by_rdd = collect(stream.transform(lambda rdd: rdd.map(lambda x: x * 10)))
    with_time = collect(stream.transform(lambda t, rdd: rdd.map(lambda x: (t.year > 2000, x))))
    with pytest.raises(AssertionError, match="func should take one or two arguments"):
        stream.transform(lambda a, b, c: a)
    s.start()
    assert by_rdd.wait(1) == [[10, 20, 30]]
    assert with_time.wait(1) == [[(True, 1), (True, 2), (True, 3)]]


def test_ssc_transform_and_union_over_several_streams(ssc, collect):
    s = ssc()
    a, b = s.queueStream([[1, 2]]), s.queueStream([[10]])
    both = collect(s.transform([a, b], lambda rdds: rdds[0].union(rdds[1])))
    union = collect(s.union(a, b))
    s.start()
    assert both.wait(1) == union.wait(1) == [[1, 10, 2]]  # sorted by repr


def test_joins_and_cogroup(ssc, collect):
    s = ssc()
    left = s.queueStream([[("a", 1), ("b", 2)]])
    right = s.queueStream([[("a", "x"), ("c", "y")]])
    inner = collect(left.join(right))
    full = collect(left.fullOuterJoin(right))
    grouped = collect(left.cogroup(right).mapValues(lambda vw: (list(vw[0]), list(vw[1]))))
    s.start()
    assert inner.wait(1) == [[("a", (1, "x"))]]
    assert full.wait(1) == [[("a", (1, "x")), ("b", (2, None)), ("c", (None, "y"))]]
    assert grouped.wait(1) == [[("a", ([1], ["x"])), ("b", ([2], [])), ("c", ([], ["y"]))]]


def test_an_exception_fails_its_batch_only_and_await_raises_it(ssc, collect, capfd):
    s = ssc()

    def explode(x):
        if x == "bad":
            raise KeyError("no such word: bad")
        return x

    out = collect(s.queueStream([["ok"], ["bad"], ["fine"]]).map(explode))
    s.start()
    with pytest.raises(KeyError, match="no such word: bad"):
        s.awaitTerminationOrTimeout(60)
    assert out.wait(2)[:2] == [["ok"], ["fine"]]
    assert "Traceback" in capfd.readouterr().err
    # As in Spark, the context stays active and a second wait raises again.
    assert s._native.state() == "ACTIVE"
    with pytest.raises(KeyError):
        s.awaitTerminationOrTimeout(1)


def test_lifecycle_rules_of_the_seed_notebook(sc, ssc):
    s = ssc()
    with pytest.raises(Exception, match="No output operations registered"):
        s.start()
    s2 = ssc()
    s2.queueStream([[1]]).pprint()
    s2.start()
    with pytest.raises(Exception, match="Adding new inputs, transformations, and output operations after"):
        s2.queueStream([[2]]).pprint()
    s3 = ssc()
    s3.queueStream([[1]]).pprint()
    with pytest.raises(Exception, match="Only one StreamingContext may be started in this process"):
        s3.start()
    s2.stop(stopSparkContext=False)
    with pytest.raises(Exception):
        s2.start()
    # The SparkContext lives on: a new StreamingContext on it works.
    s4 = ssc()
    seen = []
    s4.queueStream([[7]]).foreachRDD(lambda rdd: seen.append(rdd.collect()))
    s4.start()
    assert s4.awaitTerminationOrTimeout(0.1) is False
    assert sc.parallelize([1, 2, 3]).sum() == 6


def test_pprint_writes_through_sys_stdout(ssc, capsys):
    s = ssc()
    s.queueStream([["hello"], [("hello", 2)]]).pprint()
    s.start()
    import time
    deadline = time.monotonic() + 120
    text = ""
    while "('hello', 2)" not in text:
        assert time.monotonic() < deadline, "hang guard"
        s.awaitTerminationOrTimeout(0.1)
        text += capsys.readouterr().out
    assert "-------------------------------------------\nTime: " in text
    assert "\nhello\n" in text


def test_socket_text_stream_reads_a_real_server(ssc, collect):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def serve():
        conn, _ = server.accept()
        conn.sendall(b"to be or\nnot to be\n")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    s = ssc()
    words = s.socketTextStream("127.0.0.1", port).flatMap(lambda l: l.split(" "))
    totals = collect(words.map(lambda w: (w, 1)).reduceByKey(operator.add))
    s.start()
    import time
    deadline = time.monotonic() + 120
    seen, n = {}, 0
    while sum(seen.values()) < 6:
        assert time.monotonic() < deadline, "hang guard"
        n += 1
        for k, v in totals.wait(n)[-1]:
            seen[k] = seen.get(k, 0) + v
    server.close()
    assert seen == {"to": 2, "be": 2, "or": 1, "not": 1}


def test_text_file_stream_reads_new_files(tmp_path, ssc, collect):
    s = ssc()
    lines = collect(s.textFileStream(str(tmp_path)))
    s.start()
    # A file counts as new when it appears after the stream has started: wait for a first batch
    # (the stream reads the clock for its threshold on its own thread, after start returns).
    lines.wait(1)
    staged = tmp_path.parent / (tmp_path.name + "-staged.txt")
    staged.write_text("first line\nsecond line\n")
    os.rename(staged, tmp_path / "book.txt")
    import time
    deadline = time.monotonic() + 120
    got, n = [], 0
    while len(got) < 2:
        assert time.monotonic() < deadline, "hang guard"
        n += 1
        got += lines.wait(n)[-1]
    assert sorted(got) == ["first line", "second line"]


def test_slice_before_start_fails_as_spark(ssc):
    s = ssc()
    stream = s.queueStream([[1]])
    stream.pprint()
    with pytest.raises(Exception, match="has not been initialized"):
        stream.slice(0, 1)


def test_ui_web_url_serves_spark_s_rest_api_while_the_stream_runs(sc, ssc, collect):
    import json
    import urllib.request

    s = ssc()
    out = collect(s.queueStream([["a", "b"], ["c"]]))
    assert sc.uiWebUrl is None
    s.start()
    out.wait(2)
    url = sc.uiWebUrl
    assert url is not None and url.startswith("http://127.0.0.1:"), url
    with urllib.request.urlopen(url + "/api/v1/applications", timeout=30) as r:
        apps = json.load(r)
    assert apps[0]["id"] == sc.applicationId
    assert apps[0]["name"] == sc.appName
    assert apps[0]["attempts"][0]["startTimeEpoch"] == sc.startTime
    api = "%s/api/v1/applications/%s/streaming" % (url, sc.applicationId)
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen(api + "/statistics", timeout=30) as r:
            stats = json.load(r)
        if stats["numProcessedRecords"] == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert stats["numProcessedRecords"] == 3, stats
    s.stop(stopSparkContext=False)
    assert sc.uiWebUrl is None
