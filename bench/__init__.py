"""`make bench`: measures the app served as in production against baselines measured in the
same run (see the README). Nothing in the project imports this package."""
