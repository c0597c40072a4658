"""``python -m videosense``."""

import sys

from videosense.cli import main

sys.exit(main())
