"""videosense: event-driven video understanding on AWS, runnable on a laptop in one command."""
