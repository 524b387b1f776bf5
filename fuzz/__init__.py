"""Coverage-guided fuzz targets (atheris) for the parsers that read hostile input; `run.py` runs them."""
