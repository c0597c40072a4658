"""CDK entry point: ``cdk synth`` (via cdk.json) or ``python deploy/app.py [-c key=value]``."""

import sys

from videosense_deploy.app import main

if __name__ == "__main__":
    main(sys.argv[1:])
