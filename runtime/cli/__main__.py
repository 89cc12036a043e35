"""`python -m runtime.cli ...` is the `poolscope` command."""

import sys

from runtime.cli.main import main

sys.exit(main())
