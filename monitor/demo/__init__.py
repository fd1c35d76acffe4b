"""`oic-monitor demo`: a small bundled news site, served locally, run through the pipeline."""
