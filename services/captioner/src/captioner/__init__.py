"""videosense captioner service: a caption for every keyframe."""
