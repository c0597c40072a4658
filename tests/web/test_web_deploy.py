"""The web app's deployment: in compose, published on 127.0.0.1 with the search index volume; on
AWS, never reachable without signing in (Cognito on the HTTPS listener, HTTP only redirects,
tasks reachable from the load balancer alone) and with least-privilege permissions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk import aws_ecs as ecs

from videosense_deploy.compose import SEARCH_VOLUME
from videosense_deploy.services import SERVICES, ServiceDef, repo_root
from videosense_deploy.stack import StackConfig, VideosenseStack
from videosense_deploy.web import WebConfig

WEB = WebConfig(
    domain_name="videos.example.com",
    certificate_arn="arn:aws:acm:us-east-1:111122223333:certificate/abc",
    auth_domain_prefix="videosense-ci",
)


def _registry(service: ServiceDef) -> ecs.ContainerImage:
    return ecs.ContainerImage.from_registry(f"registry.example/videosense/{service.package}:1.0")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir: Path = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(outdir))
    VideosenseStack(
        app,
        "videosense-web",
        config=StackConfig(env_name="web", web=WEB),
        services=SERVICES,
        image_for=_registry,
        web_image=ecs.ContainerImage.from_registry("registry.example/videosense/web:1.0"),
    )
    app.synth()
    parsed: dict[str, Any] = json.loads((outdir / "videosense-web.template.json").read_text())
    return parsed


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_https_signs_in_before_forwarding_and_http_only_redirects(
    template: dict[str, Any],
) -> None:
    listeners = _of_type(template, "AWS::ElasticLoadBalancingV2::Listener")
    by_port = {v["Properties"]["Port"]: v["Properties"] for v in listeners.values()}
    # THEN exactly two listeners: 443 authenticates with Cognito, then forwards
    assert set(by_port) == {80, 443}
    actions = sorted(by_port[443]["DefaultActions"], key=lambda a: a["Order"])
    assert [a["Type"] for a in actions] == ["authenticate-cognito", "forward"]
    assert by_port[443]["Protocol"] == "HTTPS"
    # AND 80 answers nothing but a redirect to HTTPS
    (redirect,) = by_port[80]["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert not _of_type(template, "AWS::ElasticLoadBalancingV2::ListenerRule")
    # AND the user pool takes no self sign-ups
    (pool,) = _of_type(template, "AWS::Cognito::UserPool").values()
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


def test_web_tasks_take_traffic_from_the_load_balancer_only(template: dict[str, Any]) -> None:
    groups = _of_type(template, "AWS::EC2::SecurityGroup")
    task_group = next(
        k for k, v in groups.items() if "web tasks" in v["Properties"]["GroupDescription"]
    )
    ingress = [
        v["Properties"]
        for v in _of_type(template, "AWS::EC2::SecurityGroupIngress").values()
        if v["Properties"]["GroupId"] == {"Fn::GetAtt": [task_group, "GroupId"]}
    ]
    assert len(ingress) == 1
    assert "SourceSecurityGroupId" in ingress[0]
    assert "CidrIp" not in ingress[0]
    assert not groups[task_group]["Properties"].get("SecurityGroupIngress")


def test_web_role_reads_and_writes_only_what_it_needs(template: dict[str, Any]) -> None:
    roles = _of_type(template, "AWS::IAM::Role")
    web_role = next(k for k, v in roles.items() if "web" in v["Properties"].get("Description", ""))
    policies = [
        v["Properties"]["PolicyDocument"]["Statement"]
        for v in _of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": web_role} in v["Properties"]["Roles"]
    ]
    statements = {s["Sid"]: s for group in policies for s in group}
    actions = {
        a
        for s in statements.values()
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    # THEN no topic or table write, and no delete
    assert not any(a.startswith("sns:") for a in actions)
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} & actions
    assert "s3:DeleteObject" not in actions
    # AND object writes only under uploads/, and the request.json of clip requests
    writes = [s for s in statements.values() if "s3:PutObject" in json.dumps(s["Action"])]
    assert {s["Sid"] for s in writes} == {"WriteUploads", "WriteClipRequests"}
    written = json.dumps(statements["WriteUploads"]["Resource"])
    assert "/uploads/*" in written
    assert "frames/" not in written
    assert "documents/" not in written
    clip_writes = json.dumps(statements["WriteClipRequests"]["Resource"])
    assert clip_writes.endswith('/clips/*/*/request.json"]]}')
    assert "result.json" not in clip_writes
    assert statements["WriteClipRequests"]["Action"] == "s3:PutObject"
    # AND the only queue access is sending to the clipper's queue (found by name)
    sqs_statements = [
        s for s in statements.values() if any(a.startswith("sqs:") for a in _actions(s))
    ]
    assert [s["Sid"] for s in sqs_statements] == ["RequestClips"]
    assert sorted(_actions(sqs_statements[0])) == ["sqs:GetQueueUrl", "sqs:SendMessage"]
    queue = json.dumps(sqs_statements[0]["Resource"])
    assert queue.endswith(':videosense-web-clipper"]]}')
    queue_names = {
        q["Properties"]["QueueName"] for q in _of_type(template, "AWS::SQS::Queue").values()
    }
    assert "videosense-web-clipper" in queue_names  # the stack's own clipper queue
    # AND clips are readable (their records, and the files the app presigns)
    assert "/clips/*" in json.dumps(statements["ReadBucketAreas"]["Resource"])
    # AND the search index (the indexer's OpenSearch domain) is searched, never written
    assert sorted(_actions(statements["SearchIndexRead"])) == ["es:ESHttpGet", "es:ESHttpPost"]
    assert "SearchIndexWrite" not in statements
    searched = json.dumps(statements["SearchIndexRead"]["Resource"])
    assert "_search" in searched
    assert "_bulk" not in searched


def test_the_web_container_is_pointed_at_the_search_domain(template: dict[str, Any]) -> None:
    tasks = _of_type(template, "AWS::ECS::TaskDefinition")
    web = next(
        c
        for t in tasks.values()
        for c in t["Properties"]["ContainerDefinitions"]
        if c["Name"] == "web" or "videosense/web" in json.dumps(c["Image"])
    )
    env = {e["Name"]: e["Value"] for e in web["Environment"]}
    assert env["VIDEOSENSE_SEARCH_BACKEND"] == "opensearch"
    assert "SearchDomain" in json.dumps(env["VIDEOSENSE_SEARCH_OPENSEARCH_ENDPOINT"])


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_compose_publishes_the_web_app_locally_with_the_index_volume() -> None:
    compose = yaml.safe_load((repo_root() / "docker-compose.yml").read_text())
    web = compose["services"]["web"]
    assert web["ports"] == ["127.0.0.1:8080:8080"]
    assert web["command"] == ["python", "-m", "videosense.web"]
    assert any(v.startswith(f"{SEARCH_VOLUME}:") for v in web["volumes"])
    assert SEARCH_VOLUME in compose["volumes"]
    # AND it reads the very index file the indexer writes, on the same mount
    indexer = compose["services"]["indexer"]
    assert web["volumes"] == indexer["volumes"]
    for name in ("VIDEOSENSE_SEARCH_BACKEND", "VIDEOSENSE_SEARCH_INDEX_PATH"):
        assert web["environment"][name] == indexer["environment"][name]
    assert web["environment"]["VIDEOSENSE_WEB_MEDIA_ENDPOINT_URL"] == "http://localhost:4566"


def test_a_web_config_without_its_certificate_is_refused() -> None:
    with pytest.raises(ValueError, match="certificate"):
        WebConfig(domain_name="x.example.com", certificate_arn="", auth_domain_prefix="p")
