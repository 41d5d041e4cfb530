"""What the demo is made of: its stores, catalogue and people, as data.

`manage.py seed_demo` (shop/management/commands/seed_demo.py) writes it to the database.
"""
