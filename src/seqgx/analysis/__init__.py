"""Stage 3, the analysis: per-gene statistics, the PrediXcan baseline, assessment tables."""
