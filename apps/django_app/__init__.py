"""A minimal Django project serving bench.py's / and /json (python3-django)."""
