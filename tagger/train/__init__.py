"""Training: the data engine (rendered and real mixtures), the trainer and evaluation."""
