"""The pipeline's domain model: plain Python, no framework imports."""
