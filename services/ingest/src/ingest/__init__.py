"""videosense ingest service."""
