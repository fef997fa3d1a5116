"""`python -m raytune_app` is the `raytune-app` command."""

from .cli import run

run()
