"""The validated spec as Ray Tune objects: the Tuner, its trainable, scheduler, searcher, stoppers and callbacks.

Building them is this package's one job; `raytune_app.run` runs them (start, resume, extend) and
`raytune_app.results` reads what they leave behind.
"""
