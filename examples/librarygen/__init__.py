"""Helpers for ``examples/make_library.py``: compose, render and encode the example library.

Kept out of the ``tagger`` package on purpose: this is demo tooling that needs fluidsynth and
SoundFonts, and nothing in the product may depend on it.
"""
