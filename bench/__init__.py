"""`make bench`: the app served by gunicorn as in production, measured against baselines taken
in the same run (README, "Benchmark"). Nothing in the app imports this package."""
