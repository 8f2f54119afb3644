"""``python -m xlmeta_lab.cli``: the ``xlmeta`` command, for launchers that start Python modules (torchrun)."""

import os
import sys

from xlmeta_lab.cli.main import main
from xlmeta_lab.experiments.training.launch import launched

code = main()
if launched():
    # One process of a group, its work done and its process group destroyed, leaves without the interpreter's
    # teardown: there torch's distributed threads could abort it (std::terminate, "terminate called without an
    # active exception", exit status -6) after a finished run, which the launcher then reports as a failure. Seen
    # in 5 of 120 two-process runs of `xlmeta train --nproc 2` on CPU (gloo) with torch 2.13; the race is
    # torch's (see pytorch/pytorch#179291), and nothing is left to tear down that a process exit does not free.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
