#!/usr/bin/env python3
"""Run a unittest file or directory and record its counts for the summary.

Usage: count_unittest.py SUITE_NAME PATH
Appends "SUITE_NAME passed failed" to $GC_TEST_WORK/counts and exits non-zero
when anything failed or errored, or when no test ran at all.
"""
import os
import sys
import unittest


def main():
    name, path = sys.argv[1], sys.argv[2]
    loader = unittest.TestLoader()
    if os.path.isdir(path):
        suite = loader.discover(path, pattern="test_*.py", top_level_dir=path)
    else:
        directory, filename = os.path.split(os.path.abspath(path))
        suite = loader.discover(directory, pattern=filename, top_level_dir=directory)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    with open(os.path.join(os.environ["GC_TEST_WORK"], "counts"), "a") as counts:
        counts.write("%s %d %d\n" % (name, passed, failed if result.testsRun else failed + 1))
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)


if __name__ == "__main__":
    main()
