"""``python -m indexer``."""

from indexer.service import service
from videosense_shared.runtime import run_main

if __name__ == "__main__":
    run_main(service)
