"""Benchmarks: scripts run by hand (see each one's docstring); their figures are kept in results/."""
