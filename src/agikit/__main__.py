"""``python -m agikit`` is the ``agikit`` command."""

import sys

from .cli import main

sys.exit(main())
