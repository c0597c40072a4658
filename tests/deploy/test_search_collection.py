"""The search index on OpenSearch Serverless (``-c search=aoss``): one collection with its
encryption, network and data access policies, the indexer allowed to write and the web app only
to read, both pointed at the collection; the default stays a managed domain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecs as ecs

from tests.deploy.conftest import Synthesized, registry_image
from videosense_deploy.app import config_from_context
from videosense_deploy.services import SERVICES
from videosense_deploy.stack import (
    COLLECTION_WRITE,
    INDEX_READ,
    INDEX_WRITE,
    StackConfig,
    VideosenseStack,
)
from videosense_deploy.web import WebConfig

WEB = WebConfig(
    domain_name="videos.example.com",
    certificate_arn="arn:aws:acm:us-east-1:111122223333:certificate/abc",
    auth_domain_prefix="videosense-aoss",
)
COLLECTION = "videosense-aoss-search"
ENTRIES = "videosense-aoss-entries"


def _synth(outdir: Path, collection_type: str | None) -> Synthesized:
    app = cdk.App(outdir=str(outdir))
    context = {"env": "aoss", "search": "aoss"}
    if collection_type is not None:
        context["search_collection_type"] = collection_type
    config = config_from_context(context)
    config = StackConfig(**{**config.__dict__, "web": WEB})
    VideosenseStack(
        app,
        "videosense-aoss",
        config=config,
        services=SERVICES,
        image_for=registry_image,
        web_image=ecs.ContainerImage.from_registry("registry.example/videosense/web:1.0"),
    )
    app.synth()
    template = json.loads((outdir / "videosense-aoss.template.json").read_text())
    return Synthesized(template, SERVICES, config, outdir, "videosense-aoss")


@pytest.fixture(scope="module")
def collection_stack(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Every service and the web app, the search index on a search collection."""
    return _synth(tmp_path_factory.mktemp("cdk.aoss"), "search")


def _one(stack: Synthesized, kind: str) -> tuple[str, dict[str, Any]]:
    ((name, resource),) = stack.resources(kind).items()
    return name, resource["Properties"]


def _policy(stack: Synthesized, policy_type: str) -> dict[str, Any]:
    properties: dict[str, Any]
    (properties,) = [
        r["Properties"]
        for r in stack.resources("AWS::OpenSearchServerless::SecurityPolicy").values()
        if r["Properties"]["Type"] == policy_type
    ]
    return properties


def _role_id(stack: Synthesized, prefix: str) -> str:
    (role,) = [n for n in stack.resources("AWS::IAM::Role") if n.startswith(prefix)]
    return role


def _rendered(value: Any) -> Any:
    """A data access policy as CloudFormation holds it (an Fn::Join of JSON text and role
    ARNs), parsed back with each ARN as ``ARN(<role logical id>)``."""
    if isinstance(value, str):
        return json.loads(value)
    parts = []
    for part in value["Fn::Join"][1]:
        parts.append(part if isinstance(part, str) else f"ARN({part['Fn::GetAtt'][0]})")
    return json.loads("".join(parts))


def _statements_of(stack: Synthesized, role: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in stack.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_a_search_collection_replaces_the_domain(collection_stack: Synthesized) -> None:
    # GIVEN -c search=aoss WHEN synthesized THEN one SEARCH collection and no domain
    assert not collection_stack.resources("AWS::OpenSearchService::Domain")
    name, collection = _one(collection_stack, "AWS::OpenSearchServerless::Collection")
    assert (collection["Name"], collection["Type"]) == (COLLECTION, "SEARCH")
    # AND it is created after the policies its name needs (encryption first of all)
    depends = collection_stack.template["Resources"][name]["DependsOn"]
    policies = collection_stack.resources("AWS::OpenSearchServerless::SecurityPolicy")
    assert sorted(depends) == sorted(policies)


def test_the_collection_is_encrypted_with_an_aws_owned_key(collection_stack: Synthesized) -> None:
    encryption = _policy(collection_stack, "encryption")
    assert json.loads(encryption["Policy"]) == {
        "Rules": [{"ResourceType": "collection", "Resource": [f"collection/{COLLECTION}"]}],
        "AWSOwnedKey": True,
    }
    # AND the policy text has no whitespace (the grammar's requirement)
    assert not any(c.isspace() for c in encryption["Policy"])


def test_only_the_collection_api_is_reachable_and_no_dashboards(
    collection_stack: Synthesized,
) -> None:
    # GIVEN a stack with public subnets only WHEN its network policy is read THEN the API
    # endpoint is public (SigV4 still required) and no Dashboards rule opens anything else
    network = json.loads(_policy(collection_stack, "network")["Policy"])
    assert network == [
        {
            "Rules": [{"ResourceType": "collection", "Resource": [f"collection/{COLLECTION}"]}],
            "AllowFromPublic": True,
        }
    ]
    assert not collection_stack.resources("AWS::OpenSearchServerless::VpcEndpoint")


def test_data_access_lets_the_indexer_write_and_the_web_app_only_read(
    collection_stack: Synthesized,
) -> None:
    # GIVEN the data access policy WHEN parsed THEN two rule sets, one per principal
    _, access = _one(collection_stack, "AWS::OpenSearchServerless::AccessPolicy")
    assert access["Type"] == "data"
    writer, reader = _rendered(access["Policy"])
    indexer = _role_id(collection_stack, "TaskRoleindexer")
    web = _role_id(collection_stack, "WebTaskRole")
    indices = [f"index/{COLLECTION}/{ENTRIES}", f"index/{COLLECTION}/{ENTRIES}-videos"]
    # THEN the indexer alone: its templates (collection items), its two indices, its documents
    assert writer["Principal"] == [f"ARN({indexer})"]
    assert writer["Rules"] == [
        {
            "ResourceType": "collection",
            "Resource": [f"collection/{COLLECTION}"],
            "Permission": list(COLLECTION_WRITE),
        },
        {"ResourceType": "index", "Resource": indices, "Permission": list(INDEX_WRITE)},
    ]
    # AND the web app alone reads: it describes the indices and reads documents, no more
    assert reader["Principal"] == [f"ARN({web})"]
    assert reader["Rules"] == [
        {"ResourceType": "index", "Resource": indices, "Permission": list(INDEX_READ)}
    ]
    assert set(INDEX_READ) == {"aoss:ReadDocument", "aoss:DescribeIndex"}
    # AND nobody else is named
    rendered = json.dumps(_rendered(access["Policy"]))
    assert rendered.count("ARN(") == 2


def test_iam_lets_exactly_the_indexer_and_the_web_app_call_the_collection(
    collection_stack: Synthesized,
) -> None:
    # GIVEN every role's statements WHEN collected THEN aoss:APIAccessAll on the collection for
    # the indexer and the web app, and no aoss or es permission for any other role
    collection, _ = _one(collection_stack, "AWS::OpenSearchServerless::Collection")
    granted = {}
    for role in collection_stack.resources("AWS::IAM::Role"):
        search = [
            s
            for s in _statements_of(collection_stack, role)
            if any(a.startswith(("aoss:", "es:")) for a in _actions(s))
        ]
        if search:
            granted[role] = search
    indexer = _role_id(collection_stack, "TaskRoleindexer")
    web = _role_id(collection_stack, "WebTaskRole")
    assert set(granted) == {indexer, web}
    for statements in granted.values():
        assert statements == [
            {
                "Action": "aoss:APIAccessAll",
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [collection, "Arn"]},
                "Sid": "SearchCollectionApi",
            }
        ]


def test_the_indexer_and_web_tasks_are_pointed_at_the_collection(
    collection_stack: Synthesized,
) -> None:
    collection, _ = _one(collection_stack, "AWS::OpenSearchServerless::Collection")
    for container in ("indexer", "web"):
        env = collection_stack.environment(container)
        assert env["VIDEOSENSE_SEARCH_BACKEND"] == "opensearch"
        assert env["VIDEOSENSE_SEARCH_OPENSEARCH_ENDPOINT"] == {
            "Fn::GetAtt": [collection, "CollectionEndpoint"]
        }
        assert env["VIDEOSENSE_SEARCH_OPENSEARCH_SERVICE"] == "aoss"
        assert env["VIDEOSENSE_SEARCH_OPENSEARCH_COLLECTION_TYPE"] == "search"
        assert env["VIDEOSENSE_SEARCH_OPENSEARCH_INDEX"] == ENTRIES
    # AND a service that does not search gets none of it
    assert not any(
        k.startswith("VIDEOSENSE_SEARCH_") for k in collection_stack.environment("ingest")
    )


def test_a_vector_search_collection_is_the_default_collection_type(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # GIVEN -c search=aoss and no collection type WHEN synthesized THEN the collection is a
    # vector search one, so natural-language search works, and the tasks are told so (their
    # adapter then keeps k-NN and the collection's ids)
    stack = _synth(tmp_path_factory.mktemp("cdk.aoss-vectors"), None)
    _, collection = _one(stack, "AWS::OpenSearchServerless::Collection")
    assert collection["Type"] == "VECTORSEARCH"
    assert stack.environment("indexer")["VIDEOSENSE_SEARCH_OPENSEARCH_COLLECTION_TYPE"] == (
        "vectorsearch"
    )


def test_the_default_is_still_a_managed_domain(every: Synthesized) -> None:
    # GIVEN no search option WHEN synthesized THEN a domain, no Serverless resource
    assert config_from_context({}).search == "domain"
    assert len(every.resources("AWS::OpenSearchService::Domain")) == 1
    serverless = [
        r for r in every.template["Resources"].values() if "OpenSearchServerless" in r["Type"]
    ]
    assert serverless == []
    assert every.environment("indexer")["VIDEOSENSE_SEARCH_OPENSEARCH_SERVICE"] == "es"


@pytest.mark.parametrize(
    ("context", "message"),
    [({"search": "elastic"}, "search='elastic'"), ({"search_collection_type": "logs"}, "logs")],
)
def test_an_unknown_search_option_is_refused(context: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config_from_context(context)
