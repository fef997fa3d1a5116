"""`python -m raytune_app` is the `raytune-app` command."""

import sys

from .cli import main

sys.exit(main())
