"""The examples are imported as a user runs them: from their own directory (``agikit serve
ivr_menu:app`` puts the current directory on ``sys.path``)."""

from __future__ import annotations

import sys

from ._support import EXAMPLES

if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))
