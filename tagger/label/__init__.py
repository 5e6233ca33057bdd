"""The labeling page: people fix the model where it is wrong or unsure, and it learns from them.

Library first (the CLI ``tagger label`` only wires it up):

- ``clips``: which 5-second clips exist, what the model guessed there, which come next.
- ``audio``: decode one clip on the server, as WAV for the page and a spectrogram PNG.
- ``labels``: write labels and skips (one transaction per submit), count and export them.
- ``dataset``: turn stored labels into training/evaluation ``Example``s.
- ``api`` and ``server``: the local web server (stdlib ``http.server``) and its validation.
"""
