"""tagger: find which instruments play where in a music library."""

__version__ = "0.1.0"
