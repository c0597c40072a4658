"""The synthesized CloudFormation template matches the topology and the service table."""

from __future__ import annotations

import json
import os
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from tests.deploy.conftest import Synthesized, registry_image
from videosense_deploy.services import SERVICES, TRANSCRIPTS, UPLOADS, ServiceDef
from videosense_deploy.stack import StackConfig, VideosenseStack
from videosense_shared.settings import CommonSettings
from videosense_shared.topology import (
    DUE_INDEX,
    DUE_PARTITION_KEY,
    DUE_SORT_KEY,
    TOPOLOGY,
    Queue,
)

QUEUE_IDS = [pytest.param(q, id=q.name) for q in TOPOLOGY.queues]
SERVICE_IDS = [pytest.param(s, id=s.name) for s in SERVICES]


def _queue_id(stack: Synthesized, physical: str) -> str:
    for name, res in stack.resources("AWS::SQS::Queue").items():
        if res["Properties"]["QueueName"] == physical:
            return name
    raise AssertionError(f"no queue named {physical}")


def _topic_id(stack: Synthesized, logical: str) -> str:
    physical = f"{stack.config.prefix}-{logical}"
    for name, res in stack.resources("AWS::SNS::Topic").items():
        if res["Properties"]["TopicName"] == physical:
            return name
    raise AssertionError(f"no topic named {physical}")


def _table_id(stack: Synthesized) -> str:
    (name,) = stack.resources("AWS::DynamoDB::Table")
    return name


def _role_statements(stack: Synthesized, service: str) -> list[dict[str, Any]]:
    role_ids = [
        name
        for name, res in stack.resources("AWS::IAM::Role").items()
        if name.startswith(f"TaskRole{service.replace('-', '')}")
    ]
    assert len(role_ids) == 1, role_ids
    statements: list[dict[str, Any]] = []
    for policy in stack.resources("AWS::IAM::Policy").values():
        if {"Ref": role_ids[0]} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def _resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def _object_area(resource: Any) -> str:
    """``uploads/*`` of ``arn:...:s3:::<bucket>/uploads/*`` (an Fn::Join of the bucket name)."""
    parts = resource["Fn::Join"][1]
    last = parts[-1]
    assert isinstance(last, str)
    assert ":s3:::" in "".join(p for p in parts if isinstance(p, str))
    return last.split("/", 1)[1]


def _flat(value: Any) -> str:
    """A resource value as one comparable string (tokens joined, refs named)."""
    return json.dumps(value, sort_keys=True)


@pytest.mark.parametrize("spec", QUEUE_IDS)
def test_every_topology_queue_has_its_dlq_and_redrive(deployed: Synthesized, spec: Queue) -> None:
    # GIVEN the topology's queue WHEN synthesized THEN queue and DLQ exist, encrypted,
    # with the topology's visibility, retention and redrive count.
    prefix = deployed.config.prefix
    queue = deployed.template["Resources"][_queue_id(deployed, f"{prefix}-{spec.name}")]
    dlq_id = _queue_id(deployed, f"{prefix}-{spec.dlq_name}")
    props = queue["Properties"]
    assert props["VisibilityTimeout"] == spec.visibility_timeout_s
    assert props["MessageRetentionPeriod"] == spec.retention_s
    assert props["SqsManagedSseEnabled"] is True
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": spec.max_receive_count,
    }
    assert deployed.template["Resources"][dlq_id]["Properties"]["SqsManagedSseEnabled"] is True


def test_queue_and_topic_counts_follow_the_topology(deployed: Synthesized) -> None:
    # GIVEN the topology WHEN synthesized THEN nothing more and nothing less (plus the alarm
    # topic).
    template = Template.from_json(deployed.template)
    template.resource_count_is("AWS::SQS::Queue", 2 * len(TOPOLOGY.queues))
    template.resource_count_is("AWS::SNS::Topic", len(TOPOLOGY.topics) + 1)
    subscriptions = sum(len(q.subscriptions) for q in TOPOLOGY.queues)
    template.resource_count_is("AWS::SNS::Subscription", subscriptions)


@pytest.mark.parametrize(
    ("spec", "sub"),
    [
        pytest.param(q, s, id=f"{s.topic}->{q.name}")
        for q in TOPOLOGY.queues
        for s in q.subscriptions
    ],
)
def test_subscriptions_are_raw_and_filtered_as_the_topology_says(
    deployed: Synthesized, spec: Queue, sub: Any
) -> None:
    # GIVEN a topology subscription WHEN synthesized THEN SNS delivers raw to that queue,
    # filtered on the message type.
    queue_id = _queue_id(deployed, f"{deployed.config.prefix}-{spec.name}")
    Template.from_json(deployed.template).has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "sqs",
            "TopicArn": {"Ref": _topic_id(deployed, sub.topic)},
            "Endpoint": {"Fn::GetAtt": [queue_id, "Arn"]},
            "RawMessageDelivery": True,
            "FilterPolicy": sub.filter_policy() or Match.absent(),
        },
    )


def test_resources_are_named_as_the_services_look_them_up(
    deployed: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the settings a service of this stack reads (prefix only; nothing else set)
    for key in [k for k in os.environ if k.startswith("VIDEOSENSE_")]:
        monkeypatch.delenv(key)
    common = CommonSettings(prefix=deployed.config.prefix)
    # WHEN the stack's queues, topics and table are listed THEN each is named by the services'
    # own rule, so every lookup by name finds it
    queues = {r["Properties"]["QueueName"] for r in deployed.resources("AWS::SQS::Queue").values()}
    assert queues == {
        common.queue_name(name) for q in TOPOLOGY.queues for name in (q.name, q.dlq_name)
    }
    topics = {r["Properties"]["TopicName"] for r in deployed.resources("AWS::SNS::Topic").values()}
    assert topics == {common.topic_name(t) for t in (*TOPOLOGY.topics, "alarms")}
    (table,) = deployed.resources("AWS::DynamoDB::Table").values()
    assert table["Properties"]["TableName"] == common.table_name


def test_topics_are_encrypted(deployed: Synthesized) -> None:
    # GIVEN every topic WHEN synthesized THEN SSE with the AWS managed SNS key.
    for topic in deployed.resources("AWS::SNS::Topic").values():
        assert _flat(topic["Properties"]["KmsMasterKeyId"]).endswith(':alias/aws/sns"]]}')


def test_bucket_is_private_encrypted_and_notifies_ingest_of_uploads(deployed: Synthesized) -> None:
    # GIVEN the media bucket WHEN synthesized THEN SSE, no public access, lifecycle on frames,
    # and ObjectCreated under uploads/ goes to the ingest queue.
    (bucket,) = deployed.resources("AWS::S3::Bucket").values()
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-frames"]["Prefix"] == "frames/"
    assert rules["expire-frames"]["ExpirationInDays"] == deployed.config.frames_expire_days
    ingest_id = _queue_id(deployed, f"{deployed.config.prefix}-ingest")
    assert props["NotificationConfiguration"]["QueueConfigurations"] == [
        {
            "Event": "s3:ObjectCreated:*",
            "Queue": {"Fn::GetAtt": [ingest_id, "Arn"]},
            "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "uploads/"}]}},
        }
    ]
    # S3 validates the destination at creation: the queue policy must come first.
    policy_ids = bucket["DependsOn"]
    policies = [deployed.template["Resources"][p] for p in policy_ids]
    assert any({"Ref": ingest_id} in p["Properties"]["Queues"] for p in policies)


def test_bucket_keeps_old_versions_for_a_while_only(deployed: Synthesized) -> None:
    # GIVEN the media bucket WHEN synthesized THEN versioning is on (an overwritten or deleted
    # upload is recoverable), and old versions, orphan delete markers and abandoned multipart
    # uploads expire, so storage does not grow forever.
    (bucket,) = deployed.resources("AWS::S3::Bucket").values()
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    old = rules["expire-old-versions"]
    assert old["Status"] == "Enabled"
    assert "Prefix" not in old  # the whole bucket
    assert old["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": deployed.config.old_versions_expire_days
    }
    assert old["ExpiredObjectDeleteMarker"] is True
    assert old["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert rules["expire-messages"]["ExpirationInDays"] == deployed.config.messages_expire_days


def test_bucket_policy_refuses_plain_http(deployed: Synthesized) -> None:
    # GIVEN the bucket policy WHEN synthesized THEN it denies requests without TLS.
    Template.from_json(deployed.template).has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_ingest_queue_accepts_only_this_bucket(deployed: Synthesized) -> None:
    # GIVEN the ingest queue policy WHEN synthesized THEN S3 may send only from this bucket
    # and account.
    ingest_id = _queue_id(deployed, f"{deployed.config.prefix}-ingest")
    for policy in deployed.resources("AWS::SQS::QueuePolicy").values():
        if {"Ref": ingest_id} in policy["Properties"]["Queues"]:
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            (statement,) = [s for s in statements if s.get("Sid") == "AllowUploadNotifications"]
            assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
            assert statement["Action"] == "sqs:SendMessage"
            assert "media" in _flat(statement["Condition"]["ArnEquals"]["aws:SourceArn"])
            assert "aws:SourceAccount" in statement["Condition"]["StringEquals"]
            return
    raise AssertionError("ingest queue has no policy")


def test_table_is_on_demand_with_pitr(deployed: Synthesized) -> None:
    # GIVEN the document table WHEN synthesized THEN video_id/sk string keys, on-demand, PITR.
    Template.from_json(deployed.template).has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": f"{deployed.config.prefix}-videos",
            "KeySchema": [
                {"AttributeName": "video_id", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": Match.array_with(
                [
                    {"AttributeName": "video_id", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ]
            ),
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


def test_table_has_the_sparse_due_index(deployed: Synthesized) -> None:
    # GIVEN the document table WHEN synthesized THEN it has the keys-only "due" index the
    # aggregator's deadline sweep queries, on the attributes the store writes.
    Template.from_json(deployed.template).has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "AttributeDefinitions": Match.array_with(
                [
                    {"AttributeName": DUE_PARTITION_KEY, "AttributeType": "S"},
                    {"AttributeName": DUE_SORT_KEY, "AttributeType": "S"},
                ]
            ),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": DUE_INDEX,
                    "KeySchema": [
                        {"AttributeName": DUE_PARTITION_KEY, "KeyType": "HASH"},
                        {"AttributeName": DUE_SORT_KEY, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        },
    )


def test_deployed_stack_runs_exactly_the_services_with_a_dockerfile(deployed: Synthesized) -> None:
    # GIVEN the services whose Dockerfile exists WHEN synthesized THEN one ECS service each,
    # each image an asset built from that service's Dockerfile.
    names = {
        s["Properties"]["ServiceName"] for s in deployed.resources("AWS::ECS::Service").values()
    }
    assert names == {s.name for s in deployed.services}
    assert {"ingest", "frame-extractor", "aggregator"} <= names
    assets = json.loads((deployed.outdir / f"{deployed.stack_name}.assets.json").read_text())
    dockerfiles = {img["source"]["dockerFile"] for img in assets["dockerImages"].values()}
    assert dockerfiles == {s.dockerfile for s in deployed.services}


@pytest.mark.parametrize("service", SERVICE_IDS)
def test_each_service_scales_on_its_own_backlog(every: Synthesized, service: ServiceDef) -> None:
    # GIVEN a service WHEN synthesized with min 1 / max 7 THEN its scalable target has those
    # bounds, and its scaling alarms watch its own queue's visible + in-flight messages.
    (target,) = [
        t
        for name, t in every.resources("AWS::ApplicationAutoScaling::ScalableTarget").items()
        if name.startswith(f"Service{service.name.replace('-', '')}")
    ]
    assert target["Properties"]["MinCapacity"] == 1
    assert target["Properties"]["MaxCapacity"] == 7
    queue_name = f"{every.config.prefix}-{service.queue}"
    queue_id = _queue_id(every, queue_name)
    alarms = [
        a
        for a in every.resources("AWS::CloudWatch::Alarm").values()
        if "Metrics" in a["Properties"]
        and {"Fn::GetAtt": [queue_id, "QueueName"]} in json.loads(_flat_metrics(a))
    ]
    assert len(alarms) == 2  # scale out and scale in
    for alarm in alarms:
        expression = [m for m in alarm["Properties"]["Metrics"] if "Expression" in m]
        assert expression[0]["Expression"] == "visible + inflight"


def _flat_metrics(alarm: dict[str, Any]) -> str:
    dims = [
        d["Value"]
        for m in alarm["Properties"]["Metrics"]
        if "MetricStat" in m
        for d in m["MetricStat"]["Metric"]["Dimensions"]
    ]
    return json.dumps(dims)


def test_scaling_steps_go_to_zero_and_up_to_max(every: Synthesized) -> None:
    # GIVEN min 1 / max 7 WHEN synthesized THEN an empty queue means min tasks, and the
    # biggest backlog means max tasks, as exact capacities.
    policies = every.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    adjustments = [
        step["ScalingAdjustment"]
        for p in policies
        for step in p["Properties"]["StepScalingPolicyConfiguration"]["StepAdjustments"]
    ]
    assert all(
        p["Properties"]["StepScalingPolicyConfiguration"]["AdjustmentType"] == "ExactCapacity"
        for p in policies
    )
    assert min(adjustments) == 1
    assert max(adjustments) == 7


@pytest.mark.parametrize("service", SERVICE_IDS)
def test_each_service_has_dlq_and_age_alarms(every: Synthesized, service: ServiceDef) -> None:
    # GIVEN a service WHEN synthesized THEN alarms on its DLQ depth and its oldest message,
    # both notifying the alarm topic.
    alarms = {
        a["Properties"].get("AlarmName"): a["Properties"]
        for a in every.resources("AWS::CloudWatch::Alarm").values()
    }
    prefix = every.config.prefix
    depth = alarms[f"{prefix}-{service.name}-dlq-depth"]
    age = alarms[f"{prefix}-{service.name}-oldest-message"]
    assert depth["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert depth["Dimensions"] == [
        {
            "Name": "QueueName",
            "Value": {
                "Fn::GetAtt": [_queue_id(every, f"{prefix}-{service.queue}-dlq"), "QueueName"]
            },
        }
    ]
    assert depth["Threshold"] == 1
    assert age["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert age["Threshold"] == every.config.oldest_message_alarm_s
    assert depth["AlarmActions"] == age["AlarmActions"] == [{"Ref": _topic_id(every, "alarms")}]


@pytest.fixture(scope="module")
def ingest_only(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """A stack that runs ingest alone: the other queues exist with no service behind them."""
    outdir = tmp_path_factory.mktemp("cdk.partial")
    app = cdk.App(outdir=str(outdir))
    services = tuple(s for s in SERVICES if s.name == "ingest")
    config = StackConfig(env_name="partial")
    VideosenseStack(
        app, "videosense-partial", config=config, services=services, image_for=registry_image
    )
    app.synth()
    template = json.loads((outdir / "videosense-partial.template.json").read_text())
    return Synthesized(template, services, config, outdir, "videosense-partial")


@pytest.mark.parametrize("stack_key", ["deployed", "every", "ingest_only"])
def test_every_dead_letter_queue_of_the_topology_raises_an_alarm(
    synthesized: dict[str, Synthesized], ingest_only: Synthesized, stack_key: str
) -> None:
    # GIVEN a stack (whichever services it runs) WHEN synthesized THEN each topology DLQ has a
    # depth alarm notifying the alarm topic, and no DLQ goes unwatched.
    stack = {**synthesized, "ingest_only": ingest_only}[stack_key]
    watched = {
        a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: a["Properties"]
        for a in stack.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    dlqs = {_queue_id(stack, f"{stack.config.prefix}-{q.dlq_name}") for q in TOPOLOGY.queues}
    assert set(watched) == dlqs
    for alarm in watched.values():
        assert alarm["Threshold"] == 1
        assert alarm["AlarmActions"] == [{"Ref": _topic_id(stack, "alarms")}]


@pytest.mark.parametrize("service", SERVICE_IDS)
def test_container_runs_the_entry_point_with_logs_and_drain(
    every: Synthesized, service: ServiceDef
) -> None:
    # GIVEN a service WHEN synthesized THEN its container runs `python -m <package>`, logs to
    # its CloudWatch group, drains on SIGTERM within Fargate's limit, with a read-only root.
    Template.from_json(every.template).has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "Family": f"{every.config.prefix}-{service.name}",
            "Cpu": str(service.cpu),
            "Memory": str(service.memory_mib),
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "Command": ["python", "-m", service.package],
                        "ReadonlyRootFilesystem": True,
                        "StopTimeout": min(service.stop_grace_s, 120),
                        "LogConfiguration": Match.object_like({"LogDriver": "awslogs"}),
                        "Environment": Match.array_with(
                            [
                                {"Name": "VIDEOSENSE_PREFIX", "Value": every.config.prefix},
                                {
                                    "Name": f"{service.env_prefix}VISIBILITY_TIMEOUT_S",
                                    "Value": str(service.visibility_timeout_s),
                                },
                            ]
                        ),
                    }
                )
            ],
        },
    )


# The only actions that may be granted on "*": their APIs have no resource type in IAM.
NO_RESOURCE_TYPE = {
    "rekognition:DetectLabels",
    "rekognition:DetectFaces",
    "rekognition:RecognizeCelebrities",
    "rekognition:DetectText",
    # Rekognition Video's face jobs: only StartFaceSearch names a resource (the collection).
    "rekognition:StartFaceDetection",
    "rekognition:GetFaceDetection",
    "rekognition:GetFaceSearch",
    "ecr:GetAuthorizationToken",
}


def test_no_policy_grants_wildcards(every: Synthesized, deployed: Synthesized) -> None:
    # GIVEN every IAM policy WHEN synthesized THEN no "*" action, no service-wide "svc:*",
    # and "*" resources only for APIs without a resource type.
    for stack in (every, deployed):
        for policy in stack.resources("AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = _actions(statement)
                assert not any(a == "*" or a.endswith(":*") for a in actions), statement
                if "*" in _resources(statement):
                    assert actions <= NO_RESOURCE_TYPE, statement


# What each service's task role may do, beyond consuming its own queue.
EXPECTED_GRANTS = {
    "ingest": {
        "sns:Publish": {"video-ingested", "video-completed"},
        "s3:GetObject": {"uploads/*"},
        "s3:PutObject": {"documents/*"},
        "dynamodb": {"GetItem", "Query", "PutItem", "UpdateItem", "ConditionCheckItem"},
    },
    "frame-extractor": {
        "sns:Publish": {"frames-extracted"},
        "s3:GetObject": {"uploads/*"},
        "s3:PutObject": {"frames/*"},
        "dynamodb": set(),
    },
    "transcriber": {
        "sns:Publish": {"transcript-ready"},
        "s3:GetObject": {"uploads/*", f"{TRANSCRIPTS}*"},
        "s3:PutObject": {"messages/*", f"{TRANSCRIPTS}*"},
        "dynamodb": set(),
    },
    "captioner": {
        "sns:Publish": {"captions-ready"},
        "s3:GetObject": {"frames/*", "messages/*"},
        "s3:PutObject": {"messages/*"},
        "dynamodb": set(),
    },
    "recognizer": {
        "sns:Publish": {"recognition-ready"},
        "s3:GetObject": {"frames/*", "messages/*"},
        "s3:PutObject": {"messages/*"},
        "dynamodb": set(),
    },
    "redactor": {
        "sns:Publish": {"redaction-ready"},
        "s3:GetObject": {"uploads/*"},
        "s3:PutObject": {"redacted/*"},
        "dynamodb": set(),
    },
    "aggregator": {
        "sns:Publish": {"video-completed"},
        "s3:GetObject": {"messages/*"},
        "s3:PutObject": {"documents/*"},
        "dynamodb": {
            "GetItem",
            "Query",
            "PutItem",
            "UpdateItem",
            "ConditionCheckItem",
            "BatchWriteItem",
        },
    },
    "clipper": {
        "sns:Publish": {"clips-ready"},
        "s3:GetObject": {"documents/*", "uploads/*", "clips/*"},
        "s3:PutObject": {"clips/*"},
        "s3:DeleteObject": {"clips/*"},
        "dynamodb": set(),
    },
    "indexer": {
        "sns:Publish": set(),
        "s3:GetObject": {"documents/*"},
        "s3:PutObject": set(),
        "dynamodb": set(),
    },
}


@pytest.mark.parametrize("service", SERVICE_IDS)
def test_task_role_is_least_privilege(every: Synthesized, service: ServiceDef) -> None:
    # GIVEN a service's task role WHEN synthesized THEN it consumes only its queue, dead-letters
    # only to its DLQ, publishes only its topics, and touches only its bucket areas and table
    # actions.
    expected = EXPECTED_GRANTS[service.name]
    statements = {s["Sid"]: s for s in _role_statements(every, service.name)}
    prefix = every.config.prefix
    own = _queue_id(every, f"{prefix}-{service.queue}")
    dlq = _queue_id(every, f"{prefix}-{service.queue}-dlq")
    assert statements["ConsumeOwnQueue"]["Resource"] == {"Fn::GetAtt": [own, "Arn"]}
    assert _actions(statements["ConsumeOwnQueue"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:GetQueueAttributes",
    }
    assert statements["DeadLetterOwnQueue"]["Resource"] == {"Fn::GetAtt": [dlq, "Arn"]}
    published = (
        {_flat(r) for r in _resources(statements["PublishOwnTopics"])}
        if "PublishOwnTopics" in statements
        else set()
    )
    assert published == {_flat({"Ref": _topic_id(every, t)}) for t in expected["sns:Publish"]}
    for sid, action in (
        ("ReadBucketAreas", "s3:GetObject"),
        ("WriteBucketAreas", "s3:PutObject"),
        ("DeleteBucketAreas", "s3:DeleteObject"),  # only services that clean up after a cut
    ):
        if not expected.get(action):
            assert sid not in statements
            continue
        areas = {_object_area(r) for r in _resources(statements[sid])}
        assert areas == expected[action], (sid, areas)
        assert action in _actions(statements[sid])
    table_actions = (
        _actions(statements["DocumentTable"]) if "DocumentTable" in statements else set()
    )
    assert table_actions == {f"dynamodb:{a}" for a in expected["dynamodb"]}
    if table_actions:
        # The table and its indexes (the deadline sweep queries the "due" index), nothing else.
        table = _table_id(every)
        assert _resources(statements["DocumentTable"]) == [
            {"Fn::GetAtt": [table, "Arn"]},
            {"Fn::Join": ["", [{"Fn::GetAtt": [table, "Arn"]}, "/index/*"]]},
        ]
    s3_and_more = [s for sid, s in statements.items() if sid.startswith("Backend")]
    for statement in s3_and_more:
        assert not any(
            a.startswith(("s3:", "sqs:", "sns:", "dynamodb:")) for a in _actions(statement)
        )


def test_uploads_area_is_the_configured_prefix(every: Synthesized) -> None:
    # GIVEN the uploads area of the table WHEN rendered THEN it is the deployment's prefix.
    ingest = _role_statements(every, "ingest")
    reads = next(s for s in ingest if s["Sid"] == "ReadBucketAreas")
    assert UPLOADS not in _flat(reads)
    assert every.config.uploads_prefix in _flat(reads)


@pytest.mark.parametrize(
    ("service", "actions", "resource_part"),
    [
        pytest.param(
            "recognizer",
            {
                "rekognition:DetectLabels",
                "rekognition:DetectFaces",
                "rekognition:RecognizeCelebrities",
                "rekognition:DetectText",
            },
            "*",
            id="recognizer-rekognition-detect",
        ),
        pytest.param(
            "recognizer",
            {"rekognition:SearchFacesByImage"},
            ":collection/*",
            id="recognizer-rekognition-collection",
        ),
        pytest.param(
            "captioner", {"sagemaker:InvokeEndpoint"}, ":endpoint/*", id="captioner-sagemaker"
        ),
        pytest.param(
            "transcriber",
            {
                "transcribe:StartTranscriptionJob",
                "transcribe:GetTranscriptionJob",
                "transcribe:DeleteTranscriptionJob",
            },
            ":transcription-job/videosense-ci-*",
            id="transcriber-transcribe",
        ),
    ],
)
def test_ai_backend_gets_exactly_its_api(
    every: Synthesized, service: str, actions: set[str], resource_part: str
) -> None:
    # GIVEN a service on an AWS AI backend WHEN synthesized THEN its role may call that API.
    backend = [s for s in _role_statements(every, service) if s["Sid"].startswith("Backend")]
    matching = [s for s in backend if _actions(s) == actions]
    assert len(matching) == 1, backend
    assert resource_part in _flat(matching[0]["Resource"])


def test_ai_permissions_follow_the_chosen_backend(deployed: Synthesized) -> None:
    # GIVEN the default stack WHEN a service runs a backend with no AWS API THEN its role has no
    # AI permission; with an AWS backend it has some.
    for service in deployed.services:
        backend = deployed.config.backend_for(service)
        statements = _role_statements(deployed, service.name)
        ai = [s for s in statements if s["Sid"].startswith("Backend")]
        if backend is None or not service.backend(backend).grants:
            assert ai == [], service.name
        else:
            assert ai, service.name


def test_bedrock_backend_gets_invoke_model_only() -> None:
    # GIVEN the captioner's bedrock backend WHEN looked up THEN it is InvokeModel on models.
    captioner = next(s for s in SERVICES if s.name == "captioner")
    (grant,) = captioner.backend("bedrock").grants
    assert grant.actions == ("bedrock:InvokeModel",)
    assert all(":foundation-model/" in r or ":inference-profile/" in r for r in grant.resources)


@pytest.mark.parametrize(
    ("stack_key", "provider"),
    [
        pytest.param("deployed", "FARGATE_SPOT", id="spot"),
        pytest.param("every", "FARGATE", id="on-demand"),
    ],
)
def test_services_run_on_the_chosen_capacity(
    synthesized: dict[str, Synthesized], stack_key: str, provider: str
) -> None:
    # GIVEN spot on (default) or off WHEN synthesized THEN every service uses that capacity, with
    # a public IP for egress only (the security group has no ingress).
    stack = synthesized[stack_key]
    for service in stack.resources("AWS::ECS::Service").values():
        props = service["Properties"]
        assert props["CapacityProviderStrategy"] == [{"CapacityProvider": provider, "Weight": 1}]
        network = props["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "ENABLED"
    for group in stack.resources("AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in group["Properties"]
        (egress,) = group["Properties"]["SecurityGroupEgress"]
        assert (egress["FromPort"], egress["ToPort"]) == (443, 443)


def test_image_contexts_hold_only_shared_and_the_service(deployed: Synthesized) -> None:
    # GIVEN the staged image contexts WHEN listed THEN each holds the shared library and its own
    # service, nothing else of the repository (no venv, tests, samples or other services).
    assets = json.loads((deployed.outdir / f"{deployed.stack_name}.assets.json").read_text())
    for image in assets["dockerImages"].values():
        context = deployed.outdir / image["source"]["directory"]
        own = image["source"]["dockerFile"].split("/")[1]
        # .dockerignore is staged too: docker applies it again when the image is built.
        assert {p.name for p in context.iterdir()} - {".dockerignore"} == {"shared", "services"}
        assert {p.name for p in (context / "services").iterdir()} == {own}
        assert not list(context.rglob("__pycache__"))


def test_only_the_indexer_writes_the_search_domain(every: Synthesized) -> None:
    # GIVEN the synthesized stack WHEN the task roles are read THEN the indexer may write the
    # search index (its templates, bulk, its indices) over SigV4, and no other role touches it
    domains = every.resources("AWS::OpenSearchService::Domain")
    assert len(domains) == 1
    (domain,) = domains.values()
    assert domain["Properties"]["EncryptionAtRestOptions"] == {"Enabled": True}
    assert domain["Properties"]["NodeToNodeEncryptionOptions"] == {"Enabled": True}
    assert domain["Properties"]["DomainEndpointOptions"]["EnforceHTTPS"] is True
    assert "AccessPolicies" not in domain["Properties"]
    for name in (service.name for service in every.services):
        sids = {s["Sid"] for s in _role_statements(every, name)}
        if name == "indexer":
            assert "SearchIndexWrite" in sids
        else:
            assert not sids & {"SearchIndexWrite", "SearchIndexRead"}, name
    (write,) = [s for s in _role_statements(every, "indexer") if s["Sid"] == "SearchIndexWrite"]
    assert not {a for a in _actions(write) if not a.startswith("es:ESHttp")}
