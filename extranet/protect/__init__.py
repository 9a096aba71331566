"""protect stage of the pipeline."""
