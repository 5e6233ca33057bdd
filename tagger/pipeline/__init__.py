"""The scan pipeline, in the order a track goes through it: discover, rescan (skip unchanged),
decode_stage + chunking (decode and cut into windows), inference (batched model), assemble
(windows back into tracks), segments, scanning (options, planning, the result sink) and run
(``scan()``, public as ``tagger.scan``). Where the stages run is the engines' part
(``tagger.engines``)."""
