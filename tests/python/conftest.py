"""Puts the repository root (for ``import analysis``) and this folder (for the
test-side file writer ``sonata_files``) on sys.path."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for path in (ROOT, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)
