"""The scan pipeline, in the order a track goes through it: discover, rescan (skip unchanged),
decode_stage + chunking (decode and cut into windows), inference (batched model), segments,
scanning (options, planning, the result sink) and run (``scan()``)."""
