"""Benchmarks on what users feed the tool: real music (``realdev``) and the example library.

A model is better only if it is better here. ``sets`` builds the real-music items from
``../shared/data/real`` (split by source: the sources realdev uses are never trained on),
``scores`` runs any scorer over them window by window (as a scan does) with a cache, and
``report`` turns window scores into the figures: per-class AP, top-1, and presence
precision/recall at the scanner's own decisions.
"""
