"""What videosense costs on AWS, from measured per-stage rates and published prices.

Every number is a named constant with where it comes from: the rates from the benchmarks in
``bench/README.md`` (and ``docs/scaling.md``), the prices from AWS's pricing pages (us-east-1,
on-demand list prices; which were read from a page, and which from a third-party page, is said
for each). :func:`bill` turns them into the monthly bill for a volume of video and a choice of
backend per stage; :func:`task_capacity` into what one Fargate task of a service sustains.
``python bench/cost_model.py`` prints both tables (``--hours`` and ``--video-minutes`` change
the volume and the average video length).

The arithmetic, not the prices, is what the tests pin: update a price here when AWS changes it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, replace

from videosense_shared.messages import Stage


@dataclass(frozen=True)
class Price:
    """One published unit price."""

    usd: float
    unit: str
    source: str  # the page's address
    as_of: str  # the page's date, or when and how it was read
    third_party: bool = False  # read from a page that is not AWS's own


@dataclass(frozen=True)
class Rate:
    """One measured (or stated) quantity, with the benchmark it comes from."""

    value: float
    unit: str
    source: str


_NOT_READ = (
    "AWS list price as last published; the page text was not retrievable here (2026-12): "
    "check it before relying on the figure"
)

# -- prices (us-east-1) ---------------------------------------------------------------------

_FARGATE_PAGES = (
    "https://www.wring.co/blog/aws-fargate-pricing-guide and "
    "https://vantage.sh/blog/fargate-pricing, quoting https://aws.amazon.com/fargate/pricing/"
)
FARGATE_VCPU_HOUR = Price(
    0.04048,
    "per vCPU-hour (Linux/x86, on demand, per second with a 1-minute minimum)",
    _FARGATE_PAGES,
    "page dated 2026-03-10 (wring.co); as retrieved 2026-12",
    third_party=True,
)
FARGATE_GB_HOUR = Price(
    0.004445,
    "per GB-hour (Linux/x86, on demand)",
    _FARGATE_PAGES,
    "page dated 2026-03-10 (wring.co); as retrieved 2026-12",
    third_party=True,
)
# The stack gives every task a public IP (no NAT gateway): AWS charges for public IPv4
# addresses by the hour (https://cloudburn.io/blog/aws-fargate-pricing, 2026-04-01, lists it
# among the charges a Fargate bill holds; the rate is not on that page's opening).
PUBLIC_IPV4_HOUR = Price(
    0.005,
    "per public IPv4 address-hour (one per running task)",
    "https://aws.amazon.com/vpc/pricing/",
    _NOT_READ,
)
REKOGNITION_IMAGE = Price(
    0.001,
    "per image per API call (Group 1 and 2 APIs, first 1 million images a month)",
    "https://aws.amazon.com/rekognition/pricing/",
    _NOT_READ,
)
REKOGNITION_VIDEO_MINUTE = Price(
    0.10,
    "per minute of stored video per API (face detection; face search is charged again)",
    "https://aws.amazon.com/rekognition/pricing/",
    _NOT_READ,
)
TRANSCRIBE_MINUTE = Price(
    0.024,
    "per minute of audio (standard batch, first 250,000 minutes a month)",
    "https://aws.amazon.com/transcribe/pricing/",
    _NOT_READ,
)
BEDROCK_NOVA_LITE_INPUT_1K = Price(
    0.00006,
    "per 1,000 input tokens (Amazon Nova Lite, on demand)",
    "https://aws.amazon.com/bedrock/pricing/",
    _NOT_READ,
)
BEDROCK_NOVA_LITE_OUTPUT_1K = Price(
    0.00024,
    "per 1,000 output tokens (Amazon Nova Lite, on demand)",
    "https://aws.amazon.com/bedrock/pricing/",
    _NOT_READ,
)
S3_PUT_1K = Price(
    0.005,
    "per 1,000 PUT/COPY/POST/LIST requests (S3 Standard)",
    "https://aws.amazon.com/s3/pricing/",
    _NOT_READ,
)
S3_GET_1K = Price(
    0.0004,
    "per 1,000 GET and other requests (S3 Standard)",
    "https://aws.amazon.com/s3/pricing/",
    _NOT_READ,
)
SQS_MILLION = Price(
    0.40,
    "per million requests (standard queues, after the first million a month; a request "
    "per 64 KB of payload)",
    "https://cloudburn.io/blog/amazon-sqs-pricing, quoting https://aws.amazon.com/sqs/pricing/",
    "page: us-east-1 prices as of March 2026; as retrieved 2026-12",
    third_party=True,
)
SNS_MILLION = Price(
    0.50,
    "per million publishes (standard topics)",
    "https://www.factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols/, quoting "
    "https://aws.amazon.com/sns/pricing/",
    "page dated 2026-06-13; as retrieved 2026-12",
    third_party=True,
)
# The page found quotes the on-demand prices from before the 50% cut AWS announced in
# November 2024 ($0.625 / $0.125): the bill uses the higher figures, an upper bound.
DYNAMODB_WRITE_MILLION = Price(
    1.25,
    "per million write request units (on demand)",
    "https://wring.co/blog/aws-dynamodb-pricing-guide, quoting "
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "page dated 2026-03-08; as retrieved 2026-12",
    third_party=True,
)
DYNAMODB_READ_MILLION = Price(
    0.25,
    "per million read request units (on demand)",
    "https://wring.co/blog/aws-dynamodb-pricing-guide, quoting "
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "page dated 2026-03-08; as retrieved 2026-12",
    third_party=True,
)

PRICES: dict[str, Price] = {
    "Fargate vCPU": FARGATE_VCPU_HOUR,
    "Fargate memory": FARGATE_GB_HOUR,
    "Public IPv4": PUBLIC_IPV4_HOUR,
    "Rekognition Image": REKOGNITION_IMAGE,
    "Rekognition Video": REKOGNITION_VIDEO_MINUTE,
    "Transcribe": TRANSCRIBE_MINUTE,
    "Bedrock Nova Lite input": BEDROCK_NOVA_LITE_INPUT_1K,
    "Bedrock Nova Lite output": BEDROCK_NOVA_LITE_OUTPUT_1K,
    "S3 PUT": S3_PUT_1K,
    "S3 GET": S3_GET_1K,
    "SQS": SQS_MILLION,
    "SNS": SNS_MILLION,
    "DynamoDB write": DYNAMODB_WRITE_MILLION,
    "DynamoDB read": DYNAMODB_READ_MILLION,
}

# -- measured rates -------------------------------------------------------------------------

_STAGES = "bench_stages.py, 1-minute 1280x720 clip, quiet 2-core machine (bench/README.md)"
FRAMES_S_PER_MIN = Rate(5.5, "s per minute of video (frame stage)", _STAGES)
RECOGNITION_S_PER_MIN = Rate(
    23.5, "s per minute of video (local faces, OCR and labels on 11 keyframes)", _STAGES
)
TRANSCRIPT_S_PER_MIN = Rate(18.8, "s per minute of video (Whisper base, int8, greedy)", _STAGES)
WHOLE_RUN_CPU_S_PER_MIN = Rate(
    67.7, "CPU s per minute of video (whole run: start-up, emulator, model loading)", _STAGES
)
KEYFRAMES_PER_MIN = Rate(
    9.7,
    "keyframes per minute kept by the frame stage",
    "bench_frames.py economy clip (3 min, 28 scenes), run 2026-12-01; 11/min on the "
    "bench_stages clip, 7.5/min on bench_memory's 10-minute film",
)
REDACTION_CORE_S_PER_S_720P = Rate(
    0.59,
    "core-seconds per second of 720p video (local backend, scan + render + x264)",
    "bench_redaction.py, 20 s 720p clip, 5 shots, 2 shared cores",
)
REDACTION_DETECTION_SHARE = Rate(
    2.9 / 11.8,
    "share of the 720p redaction CPU spent in face detection (2.9 of 11.8 core-seconds)",
    "bench_redaction.py breakdown (bench/README.md); the rekognition backend still scans "
    "(frame times, cuts) and renders locally",
)
REDACTION_CORE_S_PER_S_1080P = Rate(
    1.05, "core-seconds per second of 1080p video", "bench_redaction.py, 20 s 1080p clip"
)

# -- stated quantities (code defaults, estimates) -------------------------------------------

REKOGNITION_CALLS_PER_KEYFRAME = Rate(
    4,
    "Rekognition Image calls per keyframe (DetectLabels, DetectFaces, RecognizeCelebrities, "
    "DetectText; SearchFacesByImage per face on top when a collection is set)",
    "the recognizer's rekognition backend default features (services/recognizer)",
)
CAPTION_IMAGE_TOKENS = Rate(
    1300,
    "input tokens per 1280x720 keyframe (estimate)",
    "Amazon Nova user guide's image token estimates (about 1,300 tokens near 0.9 megapixels); "
    "not measured here",
)
CAPTION_PROMPT_TOKENS = Rate(
    40, "input tokens of the caption prompt (estimate)", "captioner DEFAULT_PROMPT, 24 words"
)
CAPTION_OUTPUT_TOKENS = Rate(
    40, "output tokens per caption (the cap)", "captioner max_tokens default (services/captioner)"
)
KEYFRAMES_PER_CHUNK = Rate(50, "keyframes per FramesExtracted", "frame extractor chunk_size")
TRANSCRIPT_SEGMENTS_PER_MIN = Rate(
    12, "transcript segments per minute of speech (estimate)", "about one per 5 s of speech"
)


@dataclass(frozen=True)
class Task:
    """A Fargate task size from the CDK service table (deploy/videosense_deploy/services.py)."""

    service: str
    vcpu: float
    memory_gb: float
    concurrency: int

    @property
    def usd_per_hour(self) -> float:
        """What the task costs per hour it runs, on demand, with its public IP."""
        return (
            self.vcpu * FARGATE_VCPU_HOUR.usd
            + self.memory_gb * FARGATE_GB_HOUR.usd
            + PUBLIC_IPV4_HOUR.usd
        )


# The sizes the CDK stack deploys (tests/bench checks them against the service table).
TASKS: dict[str, Task] = {
    "frame-extractor": Task("frame-extractor", 1.0, 2.0, 1),
    "captioner": Task("captioner", 1.0, 4.0, 2),
    "recognizer": Task("recognizer", 0.5, 1.0, 2),
    "transcriber": Task("transcriber", 1.0, 2.0, 1),
    "redactor": Task("redactor", 2.0, 4.0, 1),
}
#: The transcriber's task on the ``transcribe`` backend: the same size, taking many messages at
#: once (their jobs run on AWS's side; the CDK's Backend.concurrency).
TRANSCRIBE_TASK = replace(TASKS["transcriber"], concurrency=16)


@dataclass(frozen=True)
class Line:
    """One line of the bill."""

    stage: str
    backend: str
    what: str
    quantity: float
    unit: str
    usd: float


def fargate_line(
    stage: Stage, backend: str, task: Task, core_s_per_min: float, minutes: float
) -> Line:
    """The Fargate cost of CPU-bound work: the task runs while the work keeps its vCPUs busy.

    Raises:
        ValueError: a negative rate or volume.
    """
    if core_s_per_min < 0 or minutes < 0:
        raise ValueError("rates and volumes cannot be negative")
    task_hours = minutes * core_s_per_min / 3600 / task.vcpu
    return Line(
        stage.value,
        backend,
        f"Fargate {task.service} ({task.vcpu:g} vCPU, {task.memory_gb:g} GB)",
        task_hours,
        "task-hours",
        task_hours * task.usd_per_hour,
    )


@dataclass(frozen=True)
class Requests:
    """Requests of the pipeline's own plumbing per video (frames, captions, recognition,
    transcript; docs/architecture.md's flow)."""

    sns_publishes: float
    sqs_requests: float
    s3_puts: float
    s3_gets: float
    dynamodb_writes: float
    dynamodb_reads: float


def requests_per_video(video_minutes: float) -> Requests:
    """Count the messages, objects and items one video of ``video_minutes`` makes.

    Messages (SNS publishes): VideoIngested, one FramesExtracted per chunk of keyframes, one
    CaptionsReady and one RecognitionReady per chunk, TranscriptReady, VideoCompleted. Every
    delivery to a queue is an SQS send, a receive and a delete (3 requests); the upload's S3
    notification is one more delivery. VideoIngested reaches 4 queues (frame extractor,
    transcriber, redactor, aggregator), a chunk 3 (captioner, recognizer, aggregator), each
    result 1 (aggregator), VideoCompleted 1 (indexer).

    Objects: the upload (1 PUT), a JPEG per keyframe (PUT, then a GET by the captioner and by
    the recognizer), the document (PUT, and a GET by the indexer); stages download the upload
    (frame extractor, transcriber: 2 GETs, each in 8 MiB ranges not counted here).

    Items (write units, items under 1 KB): the header (create + 2 per stage: started,
    finished), per chunk a transaction of marker and counter (2 items, 2 units each), per
    keyframe and scene one item, per keyframe two result updates (caption, recognition), the
    transcript and its segments, the completion (status, lease, published). Reads: the
    aggregator reads the header once per message, and the document is read back whole once
    (a query of about one unit per 4 KB, eventually consistent: half a unit).

    Raises:
        ValueError: a video of no length.
    """
    if video_minutes <= 0:
        raise ValueError(f"a video lasts more than 0 minutes, got {video_minutes}")
    keyframes = video_minutes * KEYFRAMES_PER_MIN.value
    chunks = max(1.0, -(-keyframes // KEYFRAMES_PER_CHUNK.value))
    segments = video_minutes * TRANSCRIPT_SEGMENTS_PER_MIN.value
    publishes = 1 + 3 * chunks + 1 + 1
    deliveries = 1 + 4 + 3 * chunks + 2 * chunks + 1 + 1  # upload, ingested, chunks, results
    stages = 4
    item_writes = (
        1
        + 2 * stages
        + 4 * chunks
        + 2 * keyframes  # the keyframe item and its scene (at most one scene per keyframe)
        + 2 * keyframes
        + 1
        + segments
        + 3
    )
    aggregator_messages = 1 + chunks * 3 + 1
    document_kb = 1 * (1 + 2 * keyframes + segments)  # ~1 KB per item
    return Requests(
        sns_publishes=publishes,
        sqs_requests=3 * deliveries,
        s3_puts=1 + keyframes + 1,
        s3_gets=2 * keyframes + 1 + 2,
        dynamodb_writes=item_writes,
        dynamodb_reads=aggregator_messages + document_kb / 4 / 2,
    )


def plumbing_lines(minutes: float, video_minutes: float) -> list[Line]:
    """S3, SQS, SNS and DynamoDB requests for ``minutes`` of video in videos of
    ``video_minutes``, the same whatever the backends.

    Raises:
        ValueError: a video of no length.
    """
    per = requests_per_video(video_minutes)
    videos = minutes / video_minutes
    return [
        Line(
            "plumbing",
            "-",
            "SNS publishes",
            videos * per.sns_publishes,
            "publishes",
            videos * per.sns_publishes / 1e6 * SNS_MILLION.usd,
        ),
        Line(
            "plumbing",
            "-",
            "SQS requests",
            videos * per.sqs_requests,
            "requests",
            videos * per.sqs_requests / 1e6 * SQS_MILLION.usd,
        ),
        Line(
            "plumbing",
            "-",
            "S3 PUT",
            videos * per.s3_puts,
            "requests",
            videos * per.s3_puts / 1e3 * S3_PUT_1K.usd,
        ),
        Line(
            "plumbing",
            "-",
            "S3 GET",
            videos * per.s3_gets,
            "requests",
            videos * per.s3_gets / 1e3 * S3_GET_1K.usd,
        ),
        Line(
            "plumbing",
            "-",
            "DynamoDB writes",
            videos * per.dynamodb_writes,
            "write units",
            videos * per.dynamodb_writes / 1e6 * DYNAMODB_WRITE_MILLION.usd,
        ),
        Line(
            "plumbing",
            "-",
            "DynamoDB reads",
            videos * per.dynamodb_reads,
            "read units",
            videos * per.dynamodb_reads / 1e6 * DYNAMODB_READ_MILLION.usd,
        ),
    ]


def stage_lines(stage: Stage, backend: str, minutes: float) -> list[Line]:
    """The bill of one stage on one backend for ``minutes`` of video.

    Raises:
        ValueError: no such backend for the stage, or its cost was not measured.
    """
    keyframes = minutes * KEYFRAMES_PER_MIN.value
    match stage, backend:
        case Stage.FRAMES, "local":
            return [
                fargate_line(
                    stage, backend, TASKS["frame-extractor"], FRAMES_S_PER_MIN.value, minutes
                )
            ]
        case Stage.RECOGNITION, "local":
            return [
                fargate_line(
                    stage, backend, TASKS["recognizer"], RECOGNITION_S_PER_MIN.value, minutes
                )
            ]
        case Stage.RECOGNITION, "rekognition":
            images = keyframes * REKOGNITION_CALLS_PER_KEYFRAME.value
            return [
                Line(
                    stage.value,
                    backend,
                    "Rekognition Image calls",
                    images,
                    "images",
                    images * REKOGNITION_IMAGE.usd,
                )
            ]
        case Stage.TRANSCRIPT, "whisper":
            return [
                fargate_line(
                    stage, backend, TASKS["transcriber"], TRANSCRIPT_S_PER_MIN.value, minutes
                )
            ]
        case Stage.TRANSCRIPT, "transcribe":
            return [
                Line(
                    stage.value,
                    backend,
                    "Transcribe minutes",
                    minutes,
                    "minutes",
                    minutes * TRANSCRIBE_MINUTE.usd,
                )
            ]
        case Stage.CAPTIONS, "bedrock":
            tokens_in = keyframes * (CAPTION_IMAGE_TOKENS.value + CAPTION_PROMPT_TOKENS.value)
            tokens_out = keyframes * CAPTION_OUTPUT_TOKENS.value
            return [
                Line(
                    stage.value,
                    backend,
                    "Bedrock Nova Lite input",
                    tokens_in,
                    "tokens",
                    tokens_in / 1e3 * BEDROCK_NOVA_LITE_INPUT_1K.usd,
                ),
                Line(
                    stage.value,
                    backend,
                    "Bedrock Nova Lite output",
                    tokens_out,
                    "tokens",
                    tokens_out / 1e3 * BEDROCK_NOVA_LITE_OUTPUT_1K.usd,
                ),
            ]
        case Stage.REDACTION, "local":
            core_s = REDACTION_CORE_S_PER_S_720P.value * 60
            return [fargate_line(stage, backend, TASKS["redactor"], core_s, minutes)]
        case Stage.REDACTION, "rekognition":
            render_s = (
                REDACTION_CORE_S_PER_S_720P.value * 60 * (1 - REDACTION_DETECTION_SHARE.value)
            )
            return [
                fargate_line(stage, backend, TASKS["redactor"], render_s, minutes),
                Line(
                    stage.value,
                    backend,
                    "Rekognition Video face detection",
                    minutes,
                    "minutes",
                    minutes * REKOGNITION_VIDEO_MINUTE.usd,
                ),
            ]
    raise ValueError(f"no measured cost for {stage.value} on {backend!r}")


#: The backend choices the bill compares: (stage, backend) per column.
CHOICES: dict[str, dict[Stage, str]] = {
    "all local on Fargate": {
        Stage.FRAMES: "local",
        Stage.RECOGNITION: "local",
        Stage.TRANSCRIPT: "whisper",
    },
    "local models + Bedrock captions": {
        Stage.FRAMES: "local",
        Stage.RECOGNITION: "local",
        Stage.TRANSCRIPT: "whisper",
        Stage.CAPTIONS: "bedrock",
    },
    "AWS AI APIs (stack defaults)": {
        Stage.FRAMES: "local",
        Stage.RECOGNITION: "rekognition",
        Stage.TRANSCRIPT: "transcribe",
        Stage.CAPTIONS: "bedrock",
    },
}


def bill(choice: dict[Stage, str], minutes: float, video_minutes: float) -> list[Line]:
    """Every line of the monthly bill for ``minutes`` of video with ``choice``'s backends.

    Raises:
        ValueError: a backend without a measured cost, or a video of no length.
    """
    lines = [
        line for stage, backend in choice.items() for line in stage_lines(stage, backend, minutes)
    ]
    return lines + plumbing_lines(minutes, video_minutes)


def total(lines: Sequence[Line]) -> float:
    """The sum of ``lines``."""
    return sum(line.usd for line in lines)


@dataclass(frozen=True)
class Capacity:
    """What one task sustains on one backend."""

    service: str
    backend: str
    task: Task
    video_minutes_per_hour: float | None  # None: bound by the AWS API, not the task
    note: str


def task_capacity() -> list[Capacity]:
    """Minutes of video one task of each service works through per hour, from the measured
    core-seconds per minute and the task's vCPUs (the work assumed to keep them all busy)."""

    def cpu_bound(service: str, backend: str, core_s_per_min: float, note: str) -> Capacity:
        task = TASKS[service]
        return Capacity(service, backend, task, 3600 * task.vcpu / core_s_per_min, note)

    return [
        cpu_bound("frame-extractor", "local", FRAMES_S_PER_MIN.value, "decode and scene detection"),
        cpu_bound("recognizer", "local", RECOGNITION_S_PER_MIN.value, "faces, OCR, labels"),
        Capacity(
            "recognizer",
            "rekognition",
            TASKS["recognizer"],
            None,
            "waits on 4 calls per keyframe, 2 chunks at once",
        ),
        cpu_bound("transcriber", "whisper", TRANSCRIPT_S_PER_MIN.value, "Whisper base"),
        Capacity(
            "transcriber",
            "transcribe",
            TRANSCRIBE_TASK,
            None,
            "starts each job and checks it when the message returns: no worker waits on a job",
        ),
        Capacity(
            "captioner", "bedrock", TASKS["captioner"], None, "waits on Bedrock, 2 chunks at once"
        ),
        cpu_bound("redactor", "local", REDACTION_CORE_S_PER_S_720P.value * 60, "720p"),
        cpu_bound("redactor", "local", REDACTION_CORE_S_PER_S_1080P.value * 60, "1080p"),
        Capacity(
            "redactor",
            "rekognition",
            TASKS["redactor"],
            None,
            "waits on the Rekognition Video job, then renders (scan + x264 still local)",
        ),
    ]


def render(hours: float, video_minutes: float) -> str:
    """The tables ``docs/scaling.md`` shows, as Markdown."""
    minutes = hours * 60
    out = [
        f"Bill for {hours:g} hours of video a month ({minutes:,.0f} minutes), videos of "
        f"{video_minutes:g} minutes on average, us-east-1 on-demand list prices:",
        "",
    ]
    for name, choice in CHOICES.items():
        lines = bill(choice, minutes, video_minutes)
        out += [
            f"**{name}**",
            "",
            "| stage | backend | item | quantity | USD |",
            "|---|---|---|---:|---:|",
        ]
        for ln in lines:
            quantity = f"{ln.quantity:,.0f} {ln.unit}"
            out.append(f"| {ln.stage} | {ln.backend} | {ln.what} | {quantity} | {ln.usd:,.2f} |")
        out += [f"| **total** | | | | **{total(lines):,.2f}** |", ""]
    out += [
        "**Redaction, on request** (per the same volume redacted)",
        "",
        "| backend | item | quantity | USD |",
        "|---|---|---:|---:|",
    ]
    for backend in ("local", "rekognition"):
        for ln in stage_lines(Stage.REDACTION, backend, minutes):
            out.append(f"| {backend} | {ln.what} | {ln.quantity:,.0f} {ln.unit} | {ln.usd:,.2f} |")
    out += [
        "",
        "What one Fargate task sustains:",
        "",
        "| service | backend | task | video minutes per task-hour | note |",
        "|---|---|---|---:|---|",
    ]
    for cap in task_capacity():
        size = (
            f"{cap.task.vcpu:g} vCPU, {cap.task.memory_gb:g} GB, concurrency {cap.task.concurrency}"
        )
        rate = (
            "API-bound"
            if cap.video_minutes_per_hour is None
            else f"{cap.video_minutes_per_hour:,.0f}"
        )
        out.append(f"| {cap.service} | {cap.backend} | {size} | {rate} | {cap.note} |")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the bill and the task capacities."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hours", type=float, default=1000.0, help="hours of video a month")
    parser.add_argument(
        "--video-minutes", type=float, default=10.0, help="average length of a video (minutes)"
    )
    args = parser.parse_args(argv)
    print(render(args.hours, args.video_minutes))


if __name__ == "__main__":
    main()
