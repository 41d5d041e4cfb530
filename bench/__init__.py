"""`make bench`: the app served as in production, measured against baselines of the same run."""
