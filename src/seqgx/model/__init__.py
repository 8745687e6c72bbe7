"""Stage 2, the model: loading models, personal predictions, readouts and attribution (ISM)."""
