"""The shipped models (cards, weights, ``DEFAULT``), installed as the package ``tagger.models``.

Data only: ``setup.py`` maps this folder to ``tagger.models`` so ``importlib.resources`` finds
it in an editable install and in the wheel alike (docs/ARCHITECTURE.md, "Package data"). The
``build_*.py`` scripts beside it rebuild models from ../shared and are left out of the wheel.
"""
