"""Rules about analysis stages that more than one service applies.

Ingest (which stages a video may request), the aggregator (which stages a frame failure skips),
the embedded stack and the deployment (which stages a set of running services provides) all
read them from here.
"""

from __future__ import annotations

from collections.abc import Iterable

from videosense_shared.messages import Stage

#: Stages that work on keyframes: requesting one brings in ``frames``, and without frames they
#: have nothing to do.
KEYFRAME_STAGES: tuple[Stage, ...] = (Stage.CAPTIONS, Stage.RECOGNITION)

#: Stages that make something other than a description of the video (the redaction stage writes
#: a redacted copy): they run when an upload asks for them, never as a default.
ON_REQUEST_STAGES: tuple[Stage, ...] = (Stage.REDACTION,)


def available_stages(provided: Iterable[Stage | None]) -> tuple[Stage, ...]:
    """The stages in ``provided`` (each running service's stage, None for services that provide
    none), once each, in the order of :class:`Stage`."""
    present = set(provided)
    return tuple(stage for stage in Stage if stage in present)
