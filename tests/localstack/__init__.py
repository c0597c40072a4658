"""LocalStack for the integration and e2e tiers, run without Docker (``--emulator=localstack``).

``launcher`` builds LocalStack's own virtualenv and runs it as a child process; ``plugin/`` is a
tiny LocalStack plugin package installed there; ``requirements.txt`` pins LocalStack and every
dependency with hashes. Gaps between the emulators are listed in ``docs/emulators.md``.
"""
