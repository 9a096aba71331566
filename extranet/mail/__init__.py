"""mail stage of the pipeline."""
