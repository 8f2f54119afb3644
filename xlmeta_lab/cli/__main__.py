"""``python -m xlmeta_lab.cli``: the ``xlmeta`` command, for launchers that start Python modules (torchrun)."""

import sys

from xlmeta_lab.cli.main import main

sys.exit(main())
