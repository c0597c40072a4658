"""videosense frame_extractor service."""
