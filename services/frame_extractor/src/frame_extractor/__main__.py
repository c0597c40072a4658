"""``python -m frame_extractor``."""

from frame_extractor.service import service
from videosense_shared.runtime import run_main

if __name__ == "__main__":
    run_main(service)
