"""HTTP side: health and metrics for the daemon."""
