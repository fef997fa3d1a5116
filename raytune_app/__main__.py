"""`python -m raytune_app` is the `raytune-app` command."""

from raytune_app.cli.main import run

run()
