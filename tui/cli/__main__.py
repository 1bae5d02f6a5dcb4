"""``python -m tui.cli``: the ``cnn-designer`` command run from a source tree (what the console script runs)."""

import sys

from tui.cli import main

sys.exit(main())
