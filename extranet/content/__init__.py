"""content stage of the pipeline."""
