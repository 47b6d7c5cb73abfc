"""``python -m tapegrad`` runs the command line."""

import sys

from tapegrad.cli import main

sys.exit(main())
