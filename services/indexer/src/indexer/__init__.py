"""videosense indexer service: finished videos into the library search index."""
