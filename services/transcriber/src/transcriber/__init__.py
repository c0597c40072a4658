"""videosense transcriber service: ``VideoIngested`` in, ``TranscriptReady`` out."""
