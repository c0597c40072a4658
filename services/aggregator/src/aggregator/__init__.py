"""videosense aggregator service."""
