"""Scan engines: ``local`` (:mod:`tagger.engines.local`, DataLoader workers on this machine)
and ``ray`` (:mod:`tagger.engines.ray_engine`).

An engine only decides *where* decoding and inference run; discovery and skipping
(``tagger.pipeline.scanning.plan``), the decode + chunk code
(``tagger.pipeline.decode_stage.TrackDataset``), the model
(``tagger.model.registry.load_model``) and what happens to a finished track
(``tagger.pipeline.scanning.ResultSink``) are shared, so every engine writes the same store.
"""

ENGINES = ("local", "ray")
