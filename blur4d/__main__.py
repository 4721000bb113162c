"""``python -m blur4d`` is the ``blur4d`` command."""

import sys

from .cli.main import main

sys.exit(main())
