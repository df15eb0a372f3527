#!/usr/bin/env python3
"""Genesys Cloud CX API emulator for the gc_fdw test suite: the entry point.

The emulator itself is the package gcemu beside this file (one module per
responsibility; see gcemu/__init__.py and README.md).  This script starts
it, and keeps the names other tests import from it (Dataset, huge_text).

Usage:
    python3 tests/emulator/genesys_emulator.py --port 0 --port-file F \
        [--client ID:SECRET ...] [--seed N] [--scale N] [--directory-scale N]
        [--tls-cert PEM --tls-key PEM] [--page-cache-mb N]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gcemu.dataset import Dataset  # noqa: E402  (tests build the dataset in process)
from gcemu.effects import huge_text  # noqa: E402  (the string huge_string sends)
from gcemu.server import main  # noqa: E402

__all__ = ["Dataset", "huge_text", "main"]

if __name__ == "__main__":
    sys.exit(main())
