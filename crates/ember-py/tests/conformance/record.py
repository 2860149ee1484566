"""Records every case of cases.py on real PySpark into expected/<case>.json.

    SPARK_LOCAL_IP=127.0.0.1 /work/venvs/rec/bin/python record.py [--out DIR] [CASE ...]

Runs all cases (or the named ones) on one SparkContext (runner.CONF; cases
with fresh_context get a new one) and
writes one file per case, plus expected/pprint.txt (see pprint_case.py).
`--out DIR` writes elsewhere, for checking that two recordings are identical.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pprint_case  # noqa: E402
import runner  # noqa: E402
from cases import CASES, CASES_BY_NAME  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=runner.EXPECTED_DIR)
    parser.add_argument("--no-pprint", action="store_true", help="skip expected/pprint.txt")
    parser.add_argument("cases", nargs="*")
    args = parser.parse_args()

    import pyspark

    if pyspark.__version__ != "3.5.3":
        sys.exit("record with PySpark 3.5.3, not %s" % pyspark.__version__)
    os.makedirs(args.out, exist_ok=True)
    selected = [CASES_BY_NAME[n] for n in args.cases] if args.cases else CASES

    modules = runner.pyspark_modules()
    try:
        for case in selected:
            started = time.monotonic()
            result = runner.run_case(modules, case)
            with open(os.path.join(args.out, case.name + ".json"), "w", encoding="utf-8") as f:
                f.write(runner.dump(result))
            status = result.get("error", "%d batches" % len(result.get("batches", [])))
            print("%-50s %-24s %5.1f s" % (case.name, status, time.monotonic() - started), flush=True)
    finally:
        runner.stop_shared_context(modules)

    if not args.no_pprint and not args.cases:
        text = pprint_case.capture(sys.executable, "pyspark")
        with open(os.path.join(args.out, "pprint.txt"), "wb") as f:
            f.write(text)
        print("pprint.txt %d bytes" % len(text))


if __name__ == "__main__":
    main()
