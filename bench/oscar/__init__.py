"""django-oscar's stock shop, installed and configured at run time for the side-by-side bench."""
