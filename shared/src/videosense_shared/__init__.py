"""videosense shared library: the contracts and runtime every service uses."""
