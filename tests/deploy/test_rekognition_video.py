"""The redactor's Rekognition Video backend is deployed with everything its jobs need.

``StartFaceDetection`` / ``StartFaceSearch`` name an SNS topic and a role Rekognition assumes
to announce the job's end on it (``NotificationChannel``); Rekognition reads the upload with the
caller's own permissions. The ``every`` stack runs the redactor on ``rekognition``; the
``deployed`` one (``make synth``) on its default, ``local``, which must get none of it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.deploy.conftest import Synthesized
from videosense_shared.backends import BackendUnavailableError

if TYPE_CHECKING:
    from types_aiobotocore_rekognition import RekognitionClient

PRINCIPAL = "rekognition.amazonaws.com"
TOPIC_SETTING = "VIDEOSENSE_REDACTOR_NOTIFICATION_TOPIC_ARN"
ROLE_SETTING = "VIDEOSENSE_REDACTOR_NOTIFICATION_ROLE_ARN"


def _one(stack: Synthesized, kind: str, match: Any) -> tuple[str, dict[str, Any]]:
    found = [(name, res) for name, res in stack.resources(kind).items() if match(res)]
    assert len(found) == 1, [name for name, _ in found]
    return found[0]


def _job_topic(stack: Synthesized) -> str:
    name, _ = _one(
        stack,
        "AWS::SNS::Topic",
        lambda r: r["Properties"]["TopicName"] == f"{stack.config.prefix}-rekognition-jobs",
    )
    return name


def _assumed_by(role: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
        service = statement["Principal"].get("Service", [])
        out |= {service} if isinstance(service, str) else set(service)
    return out


def _job_role(stack: Synthesized) -> tuple[str, dict[str, Any]]:
    return _one(stack, "AWS::IAM::Role", lambda r: PRINCIPAL in _assumed_by(r))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _task_statements(stack: Synthesized, service: str) -> dict[str, dict[str, Any]]:
    (role,) = [
        name
        for name in stack.resources("AWS::IAM::Role")
        if name.startswith(f"TaskRole{service.replace('-', '')}")
    ]
    return {
        s["Sid"]: s
        for policy in stack.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    }


def test_rekognition_gets_its_own_encrypted_notification_topic(every: Synthesized) -> None:
    # GIVEN the redactor on rekognition WHEN synthesized THEN one topic for the job
    # notifications, encrypted like the others, with nothing in the stack subscribed (the
    # backend polls its jobs) and its ARN in the outputs for operators.
    topic = _job_topic(every)
    props = every.template["Resources"][topic]["Properties"]
    assert "alias/aws/sns" in json.dumps(props["KmsMasterKeyId"])
    subscribed = [
        s
        for s in every.resources("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": topic}
    ]
    assert subscribed == []
    assert {"Ref": topic} in [o["Value"] for o in every.template["Outputs"].values()]


def test_only_rekognition_assumes_the_role_and_it_may_only_publish_there(
    every: Synthesized,
) -> None:
    # GIVEN the role Rekognition publishes with WHEN synthesized THEN only Rekognition, on
    # behalf of this account, may assume it, and its one permission is sns:Publish on the job
    # topic: no managed policy, no other statement, no other role attached to it.
    name, role = _job_role(every)
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": PRINCIPAL}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "ManagedPolicyArns" not in role["Properties"]
    statements = [
        s
        for policy in role["Properties"]["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
    ]
    assert statements == [
        {
            "Action": "sns:Publish",
            "Effect": "Allow",
            "Resource": {"Ref": _job_topic(every)},
            "Sid": "PublishJobNotifications",
        }
    ]
    attached = [
        p
        for p in every.resources("AWS::IAM::Policy").values()
        if {"Ref": name} in p["Properties"]["Roles"]
    ]
    assert attached == []


def test_redactor_may_run_face_jobs_and_pass_that_role_only(every: Synthesized) -> None:
    # GIVEN the redactor's task role WHEN synthesized THEN it may start and read the face
    # jobs, search the collections, read the uploads (Rekognition reads the object with the
    # caller's permissions) and pass exactly the notification role, to Rekognition only.
    statements = _task_statements(every, "redactor")
    role_name, _ = _job_role(every)
    backend = {
        action: s
        for sid, s in statements.items()
        if sid.startswith("Backend")
        for action in _as_list(s["Action"])
    }
    assert set(backend) == {
        "rekognition:StartFaceDetection",
        "rekognition:GetFaceDetection",
        "rekognition:StartFaceSearch",
        "rekognition:GetFaceSearch",
    }
    assert ":collection/*" in json.dumps(backend["rekognition:StartFaceSearch"]["Resource"])
    passing = statements["PassJobNotificationRole"]
    assert passing["Action"] == "iam:PassRole"
    assert passing["Resource"] == {"Fn::GetAtt": [role_name, "Arn"]}
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": PRINCIPAL}}
    reads = statements["ReadBucketAreas"]
    assert {"s3:GetObject", "s3:GetObjectVersion"} <= set(_as_list(reads["Action"]))
    assert json.dumps(reads["Resource"]).endswith('/uploads/*"]]}')


def test_no_other_task_role_may_pass_any_role(every: Synthesized) -> None:
    # GIVEN every IAM policy of the stack WHEN read THEN iam:PassRole appears once: the
    # redactor's, on the notification role.
    passing = [
        (statement, policy["Properties"]["Roles"])
        for policy in every.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "iam:PassRole" in _as_list(statement["Action"])
    ]
    assert len(passing) == 1
    (roles,) = [r for _, r in passing]
    assert roles[0]["Ref"].startswith("TaskRoleredactor")


def test_redactor_task_gets_the_settings_its_backend_reads(
    every: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the redactor's container environment WHEN its settings class reads it THEN the
    # backend is rekognition, the topic and role are the stack's, and the backend accepts
    # them (it refuses to start without both).
    from redactor.rekognition import RekognitionVideoBackend
    from redactor.settings import RedactorSettings

    env = every.environment("redactor")
    assert env["VIDEOSENSE_REDACTOR_BACKEND"] == "rekognition"
    assert env[TOPIC_SETTING] == {"Ref": _job_topic(every)}
    assert env[ROLE_SETTING] == {"Fn::GetAtt": [_job_role(every)[0], "Arn"]}
    for name, value in env.items():
        monkeypatch.setenv(name, value if isinstance(value, str) else json.dumps(value))
    settings = RedactorSettings()
    assert settings.backend == "rekognition"
    assert settings.notification_topic_arn == json.dumps(env[TOPIC_SETTING])
    assert settings.notification_role_arn == json.dumps(env[ROLE_SETTING])

    async def no_client() -> RekognitionClient:
        raise AssertionError("constructing the backend calls no API")

    assert RekognitionVideoBackend(no_client, settings).name == "rekognition"
    monkeypatch.delenv(ROLE_SETTING)
    with pytest.raises(BackendUnavailableError, match="NOTIFICATION_ROLE_ARN"):
        RekognitionVideoBackend(no_client, RedactorSettings())


def test_local_redactor_gets_no_job_notifications(deployed: Synthesized) -> None:
    # GIVEN the default stack (the redactor on its local detector) WHEN synthesized THEN no
    # job topic, no role for Rekognition, no PassRole and no notification settings.
    assert "redactor" in {s.name for s in deployed.services}
    assert (
        deployed.config.backend_for(next(s for s in deployed.services if s.name == "redactor"))
        == "local"
    )
    topics = {r["Properties"]["TopicName"] for r in deployed.resources("AWS::SNS::Topic").values()}
    assert f"{deployed.config.prefix}-rekognition-jobs" not in topics
    assert not [
        r for r in deployed.resources("AWS::IAM::Role").values() if PRINCIPAL in _assumed_by(r)
    ]
    assert "iam:PassRole" not in json.dumps(deployed.resources("AWS::IAM::Policy"))
    env = deployed.environment("redactor")
    assert env["VIDEOSENSE_REDACTOR_BACKEND"] == "local"
    assert TOPIC_SETTING not in env
    assert ROLE_SETTING not in env
