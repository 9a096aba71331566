"""site stage of the pipeline."""
