"""videosense recognizer service: labels, faces, celebrities and on-screen text per keyframe."""
