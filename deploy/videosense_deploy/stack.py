"""The AWS stack: bucket, topics, queues, table and one Fargate service per service.

Generated from :data:`videosense_shared.topology.TOPOLOGY` and the service table, like the
local provisioner and docker compose. Physical names follow the services' own rule,
:func:`videosense_shared.settings.physical_name` (``<prefix>-<logical>``), because the services
find their queue, topics and table by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, get_args

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchserverless as aoss
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from videosense_deploy.environment import Deployment, service_environment
from videosense_deploy.services import UPLOADS, SearchAccess, ServiceDef, repo_root
from videosense_deploy.web import WEB_DOCKERFILE, WebConfig, WebFrontend
from videosense_shared.layout import FRAMES_PREFIX, MESSAGES_PREFIX, UPLOADS_PREFIX
from videosense_shared.search.opensearch_dialect import CollectionType
from videosense_shared.search.settings import videos_index
from videosense_shared.settings import DOCUMENT_TABLE, physical_name
from videosense_shared.topology import (
    DUE_INDEX,
    DUE_PARTITION_KEY,
    DUE_SORT_KEY,
    PARTITION_KEY,
    SORT_KEY,
    TOPOLOGY,
    Topology,
)


def context_excludes(service: ServiceDef) -> list[str]:
    """Docker-ignore patterns that narrow the repository root to ``service``'s build inputs:
    the shared library and the service's own directory."""
    return [
        "*",
        "!shared",
        "!services",
        "services/*",
        f"!{service.directory}",
        "**/__pycache__",
        "**/*.egg-info",
        "**/.mypy_cache",
        "**/.pytest_cache",
    ]


@dataclass(frozen=True)
class StackConfig:
    """What differs between environments (dev, prod, ...)."""

    env_name: str = "dev"
    min_tasks: int = 0  # 0: scale to zero when every queue is empty
    max_tasks: int = 4
    spot: bool = True  # Fargate Spot: interrupted tasks drain like a SIGTERM
    backends: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    uploads_prefix: str = UPLOADS_PREFIX
    frames_expire_days: int = 30
    messages_expire_days: int = 14
    # How long an overwritten or deleted object (an upload, a document) stays recoverable.
    old_versions_expire_days: int = 7
    oldest_message_alarm_s: int = 900
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    # The web app behind an authenticating load balancer; None: not deployed.
    web: WebConfig | None = None
    # Where the search index lives: an OpenSearch Service domain, or (aoss) a Serverless
    # collection of search_collection_type (docs/architecture.md, "The search index").
    search: str = "domain"
    search_collection_type: str = "vectorsearch"

    def __post_init__(self) -> None:
        if not 0 <= self.min_tasks <= self.max_tasks or self.max_tasks < 1:
            raise ValueError(
                f"need 0 <= min_tasks <= max_tasks and max_tasks >= 1, "
                f"got {self.min_tasks}, {self.max_tasks}"
            )
        if self.search not in SEARCH_BACKENDS:
            raise ValueError(f"search={self.search!r}: one of {', '.join(SEARCH_BACKENDS)}")
        if self.search_collection_type not in COLLECTION_TYPES:
            raise ValueError(
                f"search_collection_type={self.search_collection_type!r}: one of "
                f"{', '.join(COLLECTION_TYPES)}"
            )

    @property
    def prefix(self) -> str:
        """Prefix of every resource name (``VIDEOSENSE_PREFIX``)."""
        return f"videosense-{self.env_name}"

    def backend_for(self, service: ServiceDef) -> str | None:
        """The backend ``service`` runs with here (None for services without backends)."""
        if not service.backends:
            return None
        return self.backends.get(service.name, service.cloud_backend)


#: ``StackConfig.search``: an OpenSearch Service domain, or an OpenSearch Serverless collection.
SEARCH_BACKENDS = ("domain", "aoss")
#: ``StackConfig.search_collection_type``: the collection's type, as the adapter's setting names
#: it (``VIDEOSENSE_SEARCH_OPENSEARCH_COLLECTION_TYPE``). A search collection takes the client's
#: document ids but has no k-NN (no natural-language search); a vector search collection has
#: k-NN and picks document ids itself.
COLLECTION_TYPES: tuple[str, ...] = get_args(CollectionType)

#: Data access policy permissions (OpenSearch Serverless), by who holds them. The indexer puts
#: its index templates (collection items), creates its two indices and writes and reads their
#: documents; a reader describes them and reads documents (_search, _doc, _mget), nothing else.
COLLECTION_WRITE = (
    "aoss:CreateCollectionItems",
    "aoss:DescribeCollectionItems",
    "aoss:UpdateCollectionItems",
)
INDEX_WRITE = (
    "aoss:CreateIndex",
    "aoss:DescribeIndex",
    "aoss:ReadDocument",
    "aoss:UpdateIndex",
    "aoss:WriteDocument",
)
INDEX_READ = ("aoss:DescribeIndex", "aoss:ReadDocument")


def _compact(document: object) -> str:
    # Serverless security policies are JSON "without any whitespaces".
    return json.dumps(document, separators=(",", ":"))


# Checkov knows SQS encryption only as KMS; SSE-SQS encrypts at rest as well.
_SSE_SQS = (
    "CKV_AWS_27",
    "Encrypted with SSE-SQS (SqsManagedSseEnabled). The AWS managed KMS key would stop S3 and "
    "SNS from delivering, and a customer key costs $1/month.",
)

ImageFor = Callable[[ServiceDef], ecs.ContainerImage]


@dataclass(frozen=True)
class JobNotifications:
    """Where an AWS service announces the end of the jobs a backend starts, and the role it
    publishes with (Rekognition Video's ``NotificationChannel``)."""

    principal: str  # the service that assumes the role, e.g. rekognition.amazonaws.com
    topic: sns.Topic
    role: iam.Role


def asset_image(service: ServiceDef) -> ecs.ContainerImage:
    """The service's image, built from its Dockerfile at deploy time (synth only stages it)."""
    return ecs.ContainerImage.from_asset(
        str(repo_root()),
        file=service.dockerfile,
        exclude=context_excludes(service),
        ignore_mode=cdk.IgnoreMode.DOCKER,
        platform=cdk.aws_ecr_assets.Platform.LINUX_AMD64,
    )


def skip_checks(construct: Construct, checkov: Iterable[tuple[str, str]]) -> None:
    """Record justified checkov suppressions on ``construct``'s CloudFormation resource."""
    resource = construct.node.default_child if not isinstance(construct, cdk.CfnResource) else None
    target = resource if isinstance(resource, cdk.CfnResource) else construct
    assert isinstance(target, cdk.CfnResource)
    target.add_metadata(
        "checkov", {"skip": [{"id": check, "comment": why} for check, why in checkov]}
    )


class VideosenseStack(cdk.Stack):
    """Everything one environment of videosense needs on AWS."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        services: tuple[ServiceDef, ...],
        topology: Topology = TOPOLOGY,
        image_for: ImageFor = asset_image,
        web_image: ecs.ContainerImage | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self._sns_alias: kms.IAlias | None = None
        prefix = config.prefix
        self.alarm_topic = sns.Topic(
            self,
            "Alarms",
            topic_name=physical_name(prefix, "alarms"),
            master_key=self._sns_key(),
            enforce_ssl=True,
        )
        self.topics = {
            name: sns.Topic(
                self,
                f"Topic-{name}",
                topic_name=physical_name(prefix, name),
                master_key=self._sns_key(),
                enforce_ssl=True,
            )
            for name in topology.topics
        }
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for spec in topology.queues:
            dlq = sqs.Queue(
                self,
                f"Dlq-{spec.name}",
                queue_name=physical_name(prefix, spec.dlq_name),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=cdk.Duration.days(14),
            )
            queue = sqs.Queue(
                self,
                f"Queue-{spec.name}",
                queue_name=physical_name(prefix, spec.name),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                visibility_timeout=cdk.Duration.seconds(spec.visibility_timeout_s),
                retention_period=cdk.Duration.seconds(spec.retention_s),
                dead_letter_queue=sqs.DeadLetterQueue(
                    max_receive_count=spec.max_receive_count, queue=dlq
                ),
            )
            for sub in spec.subscriptions:
                policy = sub.filter_policy()
                self.topics[sub.topic].add_subscription(
                    subscriptions.SqsSubscription(
                        queue,
                        raw_message_delivery=True,
                        filter_policy=(
                            {
                                key: sns.SubscriptionFilter.string_filter(allowlist=values)
                                for key, values in policy.items()
                            }
                            if policy
                            else None
                        ),
                    )
                )
            for resource in (queue, dlq):
                skip_checks(resource, [_SSE_SQS])
            self.queues[spec.name] = queue
            self.dead_letter_queues[spec.name] = dlq
            self._dead_letter_alarm(spec.name, dlq)

        # Bucket names are global: the account and region make this one unique.
        self.bucket_name = physical_name(prefix, f"media-{cdk.Aws.ACCOUNT_ID}-{cdk.Aws.REGION}")
        self.bucket = self._bucket(topology)
        table_name = physical_name(prefix, DOCUMENT_TABLE)
        self.table = dynamodb.Table(
            self,
            "Videos",
            table_name=table_name,
            partition_key=dynamodb.Attribute(
                name=PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # Sparse, keys only: the aggregator's deadline sweep queries it (see topology.DUE_INDEX).
        self.table.add_global_secondary_index(
            index_name=DUE_INDEX,
            partition_key=dynamodb.Attribute(
                name=DUE_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=DUE_SORT_KEY, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        skip_checks(
            self.table,
            [("CKV_AWS_119", "Encrypted with the AWS managed key; a CMK adds cost, no control.")],
        )

        # The library search index, when a deployed service uses it (the indexer writes it).
        self.search_index_name = physical_name(prefix, "entries")
        uses_search = any(s.search_access for s in services)
        self.search_domain = (
            self._search_domain() if uses_search and config.search == "domain" else None
        )
        self.search_collection = (
            self._search_collection() if uses_search and config.search == "aoss" else None
        )
        search_env = self._search_environment()
        self.deployment = Deployment(
            prefix=prefix,
            bucket=self.bucket_name,
            table=table_name,
            region=cdk.Aws.REGION,
            uploads_prefix=config.uploads_prefix,
            search=MappingProxyType(search_env),
        )
        self.cluster, self.security_group = self._network()
        self.services: dict[str, ecs.FargateService] = {}
        self.task_roles: dict[str, iam.Role] = {}
        # Per AWS service principal, created for the first deployed backend that needs it.
        self.job_notifications: dict[str, JobNotifications] = {}
        for service in services:
            self._service(service, services, image_for)
        self.web = self._web(config.web, web_image) if config.web else None
        if self.web is not None and search_env:
            # The web app searches; only the indexer writes.
            self.web.task_role.add_to_policy(self._search_statement(SearchAccess.READ))
        if self.search_collection is not None:
            self.search_access_policy = self._search_access_policy(services)

        cdk.CfnOutput(self, "BucketName", value=self.bucket_name)
        cdk.CfnOutput(self, "CompletedTopicArn", value=self.topics["video-completed"].topic_arn)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)
        for short, notifications in (
            (p.split(".", 1)[0], n) for p, n in self.job_notifications.items()
        ):
            # Nothing in the stack subscribes (the backend polls its jobs): for operators.
            cdk.CfnOutput(self, f"JobTopicArn{short.title()}", value=notifications.topic.topic_arn)
        cdk.CfnOutput(
            self,
            "UploadCommand",
            value=f"aws s3 cp VIDEO s3://{self.bucket_name}/{config.uploads_prefix}",
        )

    def _web(self, web: WebConfig, image: ecs.ContainerImage | None) -> WebFrontend:
        return WebFrontend(
            self,
            "Web",
            config=web,
            prefix=self.config.prefix,
            deployment=self.deployment,
            bucket_name=self.bucket_name,
            uploads_prefix=self.config.uploads_prefix,
            table=self.table,
            cluster=self.cluster,
            image=image
            or ecs.ContainerImage.from_asset(
                str(repo_root()),
                file=WEB_DOCKERFILE,
                exclude=[
                    "**/__pycache__",
                    "**/*.egg-info",
                    "**/.mypy_cache",
                    "**/.pytest_cache",
                    ".venv*",
                    "deploy/cdk.out",
                    "tests",
                    "bench",
                    "samples",
                ],
                ignore_mode=cdk.IgnoreMode.DOCKER,
                platform=cdk.aws_ecr_assets.Platform.LINUX_AMD64,
            ),
            # The search index on AWS is the OpenSearch domain the indexer writes.
            search_environment=dict(self.deployment.search),
            spot=self.config.spot,
            log_retention=self.config.log_retention,
        )

    def _search_domain(self) -> opensearch.Domain:
        """One small OpenSearch domain for the search index, reachable only with SigV4 by the
        task roles granted below (no resource policy: identity policies alone allow access)."""
        domain = opensearch.Domain(
            self,
            "SearchDomain",
            domain_name=physical_name(self.config.prefix, "search")[:28],
            version=opensearch.EngineVersion.OPENSEARCH_2_9,
            capacity=opensearch.CapacityConfig(
                data_nodes=1,
                data_node_instance_type="t3.small.search",
                multi_az_with_standby_enabled=False,
            ),
            ebs=opensearch.EbsOptions(volume_size=10, volume_type=ec2.EbsDeviceVolumeType.GP3),
            encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True),
            node_to_node_encryption=True,
            enforce_https=True,
            tls_security_policy=opensearch.TLSSecurityPolicy.TLS_1_2,
            # Derived data: the indexer rebuilds it from documents/ (re-drive VideoCompleted).
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        skip_checks(
            domain,
            [
                ("CKV_AWS_247", "Encrypted at rest with the AWS managed key; a CMK adds cost."),
                ("CKV_AWS_84", "Derived data; service logs cover indexing errors."),
                ("CKV_AWS_317", "Audit logs need fine-grained access control; IAM-only here."),
                ("CKV_AWS_318", "One node: derived data, rebuilt from documents/ if lost."),
                ("CKV2_AWS_59", "One node: derived data, rebuilt from documents/ if lost."),
                (
                    "CKV_AWS_137",
                    "No VPC (the tasks run in public subnets without NAT); every request is "
                    "SigV4-signed and only the granted task roles are allowed.",
                ),
                ("CKV2_AWS_52", "Access is IAM-only (SigV4, least-privilege task roles)."),
            ],
        )
        return domain

    def _search_environment(self) -> dict[str, str]:
        """The ``VIDEOSENSE_SEARCH_`` settings of the services that use the index (none when
        no deployed service does)."""
        if self.search_domain is not None:
            endpoint = f"https://{self.search_domain.domain_endpoint}"
            service = {"VIDEOSENSE_SEARCH_OPENSEARCH_SERVICE": "es"}
        elif self.search_collection is not None:
            # The collection endpoint is a URL already (https://<id>.<region>.aoss.amazonaws.com).
            endpoint = self.search_collection.attr_collection_endpoint
            service = {
                "VIDEOSENSE_SEARCH_OPENSEARCH_SERVICE": "aoss",
                "VIDEOSENSE_SEARCH_OPENSEARCH_COLLECTION_TYPE": (
                    self.config.search_collection_type
                ),
            }
        else:
            return {}
        return {
            "VIDEOSENSE_SEARCH_BACKEND": "opensearch",
            "VIDEOSENSE_SEARCH_OPENSEARCH_ENDPOINT": endpoint,
            **service,
            "VIDEOSENSE_SEARCH_OPENSEARCH_INDEX": self.search_index_name,
        }

    @property
    def search_collection_name(self) -> str:
        """The collection's name (3-32 characters), the base of its policies' names too."""
        # Policy names are at most 32 characters as well: room for a 5-character suffix.
        return physical_name(self.config.prefix, "search")[:27]

    def _search_collection(self) -> aoss.CfnCollection:
        """An OpenSearch Serverless collection for the search index, with its encryption and
        network policies; the data access policy follows once the task roles exist."""
        name = self.search_collection_name
        rules = [{"ResourceType": "collection", "Resource": [f"collection/{name}"]}]
        encryption = aoss.CfnSecurityPolicy(
            self,
            "SearchEncryption",
            name=f"{name}-enc",
            type="encryption",
            description="videosense search index: encrypted with an AWS owned key",
            # An AWS owned key: encryption at rest at no charge (a CMK costs $1/month).
            policy=_compact({"Rules": rules, "AWSOwnedKey": True}),
        )
        # Public endpoint, IAM only. The stack has no private subnets (tasks run in public
        # subnets with a public IP for egress and no NAT gateway, as for the domain): every
        # request must still be SigV4-signed by a principal of the data access policy, and the
        # Dashboards endpoint is not opened at all. A VPC endpoint would add an hourly charge
        # for a path the tasks already have.
        network = aoss.CfnSecurityPolicy(
            self,
            "SearchNetwork",
            name=f"{name}-net",
            type="network",
            description="videosense search index: its API endpoint only, SigV4 required",
            policy=_compact([{"Rules": rules, "AllowFromPublic": True}]),
        )
        collection = aoss.CfnCollection(
            self,
            "SearchCollection",
            name=name,
            type=self.config.search_collection_type.upper(),
            description=f"videosense {self.config.env_name}: the library search index",
            # Derived data: the indexer rebuilds it from documents/ (re-drive VideoCompleted);
            # standby replicas would double the minimum OCUs.
            standby_replicas="DISABLED",
        )
        # A collection is created only under an encryption policy that covers its name.
        collection.add_dependency(encryption)
        collection.add_dependency(network)
        return collection

    def _search_access_policy(self, services: tuple[ServiceDef, ...]) -> aoss.CfnAccessPolicy:
        """Who may do what inside the collection: its writers (the indexer) their templates,
        indices and documents; its readers (the web app) describe and read; nobody else."""
        assert self.search_collection is not None
        name = self.search_collection_name
        indices = [
            f"index/{name}/{self.search_index_name}",
            f"index/{name}/{videos_index(self.search_index_name)}",
        ]

        def holders(access: SearchAccess) -> list[str]:
            return [self.task_roles[s.name].role_arn for s in services if s.search_access is access]

        writers = holders(SearchAccess.WRITE)
        readers = holders(SearchAccess.READ)
        if self.web is not None:
            readers.append(self.web.task_role.role_arn)
        rules: list[dict[str, Any]] = [
            {
                "Rules": [
                    {
                        "ResourceType": "collection",
                        "Resource": [f"collection/{name}"],
                        "Permission": list(COLLECTION_WRITE),
                    },
                    {"ResourceType": "index", "Resource": indices, "Permission": list(INDEX_WRITE)},
                ],
                "Principal": writers,
            }
        ]
        if readers:
            rules.append(
                {
                    "Rules": [
                        {
                            "ResourceType": "index",
                            "Resource": indices,
                            "Permission": list(INDEX_READ),
                        }
                    ],
                    "Principal": readers,
                }
            )
        return aoss.CfnAccessPolicy(
            self,
            "SearchAccess",
            name=f"{name}-data",
            type="data",
            description="videosense search index: the indexer writes, readers read",
            # Role ARNs are tokens until deploy: the stack renders them into the JSON.
            policy=self.to_json_string(rules),
        )

    def _search_statement(self, access: SearchAccess) -> iam.PolicyStatement:
        if self.search_collection is not None:
            # Serverless authorises data-plane requests by the data access policy; IAM only
            # lets the role call the collection's API at all.
            return iam.PolicyStatement(
                sid="SearchCollectionApi",
                actions=["aoss:APIAccessAll"],
                resources=[self.search_collection.attr_arn],
            )
        assert self.search_domain is not None
        arn = self.search_domain.domain_arn
        index = self.search_index_name
        if access is SearchAccess.WRITE:
            # Its index templates, bulk writes, delete-by-query and reads of its two indices.
            return iam.PolicyStatement(
                sid="SearchIndexWrite",
                actions=[
                    "es:ESHttpGet",
                    "es:ESHttpHead",
                    "es:ESHttpPost",
                    "es:ESHttpPut",
                    "es:ESHttpDelete",
                ],
                resources=[f"{arn}/_index_template/{index}*", f"{arn}/_bulk", f"{arn}/{index}*"],
            )
        # Searches and document reads only: no _bulk, no deletes, no template changes.
        return iam.PolicyStatement(
            sid="SearchIndexRead",
            actions=["es:ESHttpGet", "es:ESHttpPost"],
            resources=[
                f"{arn}/{index}/_search",
                f"{arn}/{videos_index(index)}/_search",
                f"{arn}/{videos_index(index)}/_mget",
                f"{arn}/{videos_index(index)}/_doc/*",
            ],
        )

    def _sns_key(self) -> kms.IKey:
        # The AWS managed SNS key: encryption at rest at no charge (a CMK costs $1/month).
        if self._sns_alias is None:
            self._sns_alias = kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns")
        return self._sns_alias

    def _bucket(self, topology: Topology) -> s3.Bucket:
        config = self.config
        bucket = s3.Bucket(
            self,
            "Media",
            bucket_name=self.bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # Versioned: an upload overwritten or deleted by mistake (or a document rewritten)
            # stays recoverable for old_versions_expire_days, so no video is lost to one call.
            versioned=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-frames",
                    prefix=FRAMES_PREFIX,
                    expiration=cdk.Duration.days(config.frames_expire_days),
                ),
                s3.LifecycleRule(
                    id="expire-messages",
                    prefix=MESSAGES_PREFIX,
                    expiration=cdk.Duration.days(config.messages_expire_days),
                ),
                # Without this rule versioning keeps every overwritten and expired object
                # forever: storage would only grow.
                s3.LifecycleRule(
                    id="expire-old-versions",
                    noncurrent_version_expiration=cdk.Duration.days(
                        config.old_versions_expire_days
                    ),
                    # Delete markers left alone once their old versions are gone.
                    expired_object_delete_marker=True,
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                ),
            ],
        )
        skip_checks(
            bucket,
            [("CKV_AWS_18", "Access logging left to the operator: a log bucket is extra cost.")],
        )
        # The notification is the bucket's own property (no custom-resource Lambda). S3 checks
        # the queue policy when the bucket is created, so the policy names the bucket by its
        # known ARN (not a reference) and the bucket waits for the policy.
        bucket_arn = f"arn:{cdk.Aws.PARTITION}:s3:::{self.bucket_name}"
        configs: list[dict[str, Any]] = []
        policies: list[cdk.CfnResource] = []
        for spec in topology.queues:
            if not spec.receives_uploads:
                continue
            queue = self.queues[spec.name]
            queue.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowUploadNotifications",
                    principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                    actions=["sqs:SendMessage"],
                    resources=[queue.queue_arn],
                    conditions={
                        "ArnEquals": {"aws:SourceArn": bucket_arn},
                        "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                    },
                )
            )
            # add_to_resource_policy creates the queue's policy construct, "Policy".
            policy = queue.node.find_child("Policy").node.default_child
            assert isinstance(policy, cdk.CfnResource)
            policies.append(policy)
            configs.append(
                {
                    "Event": "s3:ObjectCreated:*",
                    "Queue": queue.queue_arn,
                    "Filter": {
                        "S3Key": {
                            "Rules": [{"Name": "prefix", "Value": self.config.uploads_prefix}]
                        }
                    },
                }
            )
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override("NotificationConfiguration.QueueConfigurations", configs)
        for policy in policies:
            cfn_bucket.add_resource_dependency(policy)
        return bucket

    def _network(self) -> tuple[ecs.Cluster, ec2.SecurityGroup]:
        # Public subnets and no NAT gateway: a NAT costs ~$32/month idle. Tasks get a public
        # IP for egress only (no inbound rule); S3 and DynamoDB go through free gateway
        # endpoints.
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=24,
                    map_public_ip_on_launch=False,
                )
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDB": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
                ),
            },
        )
        skip_checks(
            vpc,
            [("CKV2_AWS_11", "Flow logs left to the operator: tasks take no inbound traffic.")],
        )
        security_group = ec2.SecurityGroup(
            self,
            "Tasks",
            vpc=vpc,
            description="videosense tasks: no inbound, HTTPS out to AWS APIs",
            allow_all_outbound=False,
        )
        security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs")
        cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            cluster_name=self.config.prefix,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
            enable_fargate_capacity_providers=True,
        )
        return cluster, security_group

    def _service(
        self, service: ServiceDef, deployed: tuple[ServiceDef, ...], image_for: ImageFor
    ) -> None:
        config = self.config
        name = service.name
        role = iam.Role(
            self,
            f"TaskRole-{name}",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"videosense {name}: its queue, its topics, its bucket areas",
        )
        notifications = self._notifications_for(service)
        for statement in self._statements(service, notifications):
            role.add_to_policy(statement)
        self.task_roles[name] = role

        task = ecs.FargateTaskDefinition(
            self,
            f"Task-{name}",
            family=physical_name(config.prefix, name),
            cpu=service.cpu,
            memory_limit_mib=service.memory_mib,
            task_role=role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        # A read-only root file system; temporary files (downloaded videos) go to /tmp on the
        # task's ephemeral storage.
        task.add_volume(name="tmp")
        log_group = logs.LogGroup(
            self,
            f"Logs-{name}",
            log_group_name=f"/videosense/{config.prefix}/{name}",
            retention=config.log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        skip_checks(
            log_group,
            [("CKV_AWS_158", "CloudWatch Logs encrypts at rest by default; a CMK adds cost.")],
        )
        environment = service_environment(
            service, self.deployment, deployed, config.backend_for(service)
        )
        if notifications is not None:
            # The redactor's settings (RedactorSettings.notification_topic_arn / _role_arn).
            environment[f"{service.env_prefix}NOTIFICATION_TOPIC_ARN"] = (
                notifications.topic.topic_arn
            )
            environment[f"{service.env_prefix}NOTIFICATION_ROLE_ARN"] = notifications.role.role_arn
        container = task.add_container(
            name,
            image=image_for(service),
            command=list(service.command),
            environment=environment,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=name, log_group=log_group),
            readonly_root_filesystem=True,
            # Fargate allows at most 120 s between SIGTERM and SIGKILL.
            stop_timeout=cdk.Duration.seconds(min(service.stop_grace_s, 120)),
        )
        container.add_mount_points(
            ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False)
        )
        provider = "FARGATE_SPOT" if config.spot else "FARGATE"
        fargate = ecs.FargateService(
            self,
            f"Service-{name}",
            cluster=self.cluster,
            service_name=name,
            task_definition=task,
            desired_count=config.min_tasks,
            assign_public_ip=True,
            security_groups=[self.security_group],
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            capacity_provider_strategies=[
                ecs.CapacityProviderStrategy(capacity_provider=provider, weight=1)
            ],
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=100,
        )
        skip_checks(
            fargate,
            [
                (
                    "CKV_AWS_333",
                    "Public IP for egress only (no NAT gateway, which costs ~$32/month idle); "
                    "the security group allows no inbound traffic.",
                )
            ],
        )
        self.services[name] = fargate
        self._scaling(service, fargate)
        self._alarms(service)

    def _notifications_for(self, service: ServiceDef) -> JobNotifications | None:
        """The job notification topic and role of ``service``'s backend here, if it needs one."""
        backend = self.config.backend_for(service)
        principal = service.backend(backend).job_notifications if backend is not None else None
        if principal is None:
            return None
        if principal not in self.job_notifications:
            self.job_notifications[principal] = self._job_notifications(principal)
        return self.job_notifications[principal]

    def _job_notifications(self, principal: str) -> JobNotifications:
        short = principal.split(".", 1)[0]
        topic_name = physical_name(self.config.prefix, f"{short}-jobs")
        topic = sns.Topic(
            self,
            f"JobNotifications-{short}",
            topic_name=topic_name,
            master_key=self._sns_key(),
            enforce_ssl=True,
        )
        # Only that service may assume the role, and only on behalf of this account (the
        # confused-deputy guard); all it may do is publish on this one topic. The policy is
        # inline: the role never exists without it.
        role = iam.Role(
            self,
            f"JobNotificationRole-{short}",
            assumed_by=iam.ServicePrincipal(
                principal,
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            ),
            description=f"{principal} announces the end of videosense jobs on {topic_name}",
            inline_policies={
                "PublishJobNotifications": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="PublishJobNotifications",
                            actions=["sns:Publish"],
                            resources=[topic.topic_arn],
                        )
                    ]
                )
            },
        )
        return JobNotifications(principal=principal, topic=topic, role=role)

    def _statements(
        self, service: ServiceDef, notifications: JobNotifications | None = None
    ) -> list[iam.PolicyStatement]:
        queue = self.queues[service.queue]
        dlq = self.dead_letter_queues[service.queue]
        statements = [
            iam.PolicyStatement(
                sid="ConsumeOwnQueue",
                actions=[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueUrl",
                    "sqs:GetQueueAttributes",
                ],
                resources=[queue.queue_arn],
            ),
            iam.PolicyStatement(
                # Poison messages go straight to the DLQ (videosense_shared.bus.dead_letter).
                sid="DeadLetterOwnQueue",
                actions=["sqs:SendMessage", "sqs:GetQueueUrl"],
                resources=[dlq.queue_arn],
            ),
        ]
        if service.publishes:
            statements.append(
                iam.PolicyStatement(
                    sid="PublishOwnTopics",
                    actions=["sns:Publish"],
                    resources=[self.topics[t].topic_arn for t in service.publishes],
                )
            )
        if service.search_access is not None:
            statements.append(self._search_statement(service.search_access))
        if service.reads:
            statements.append(
                iam.PolicyStatement(
                    sid="ReadBucketAreas",
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[self._objects(area) for area in service.reads],
                )
            )
        if service.writes:
            statements.append(
                iam.PolicyStatement(
                    sid="WriteBucketAreas",
                    actions=["s3:PutObject"],
                    resources=[self._objects(area) for area in service.writes],
                )
            )
        if service.deletes:
            statements.append(
                iam.PolicyStatement(
                    sid="DeleteBucketAreas",
                    actions=["s3:DeleteObject"],
                    resources=[self._objects(area) for area in service.deletes],
                )
            )
        if service.table_actions:
            statements.append(
                iam.PolicyStatement(
                    sid="DocumentTable",
                    actions=list(service.table_actions),
                    resources=[self.table.table_arn, f"{self.table.table_arn}/index/*"],
                )
            )
        backend = self.config.backend_for(service)
        if backend is not None:
            for index, grant in enumerate(service.backend(backend).grants):
                statements.append(
                    iam.PolicyStatement(
                        sid=f"Backend{backend.title()}{index}",
                        actions=list(grant.actions),
                        resources=[
                            r.format(
                                partition=cdk.Aws.PARTITION,
                                region=cdk.Aws.REGION,
                                account=cdk.Aws.ACCOUNT_ID,
                                prefix=self.config.prefix,
                            )
                            for r in grant.resources
                        ],
                    )
                )
        if notifications is not None:
            # Starting a job hands the service the notification role: that role only, and
            # only to that service.
            statements.append(
                iam.PolicyStatement(
                    sid="PassJobNotificationRole",
                    actions=["iam:PassRole"],
                    resources=[notifications.role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": notifications.principal}},
                )
            )
        return statements

    def _objects(self, area: str) -> str:
        prefix = self.config.uploads_prefix if area == UPLOADS else area
        return f"arn:{cdk.Aws.PARTITION}:s3:::{self.bucket_name}/{prefix}*"

    def _scaling(self, service: ServiceDef, fargate: ecs.FargateService) -> None:
        config = self.config
        queue = self.queues[service.queue]
        # Backlog = waiting + in flight: a task busy with the last message is not scaled in.
        backlog = cloudwatch.MathExpression(
            expression="visible + inflight",
            using_metrics={
                "visible": queue.metric_approximate_number_of_messages_visible(
                    period=cdk.Duration.minutes(1), statistic="Maximum"
                ),
                "inflight": queue.metric_approximate_number_of_messages_not_visible(
                    period=cdk.Duration.minutes(1), statistic="Maximum"
                ),
            },
            period=cdk.Duration.minutes(1),
            label=f"{service.name} backlog",
        )
        scaling = fargate.auto_scale_task_count(
            min_capacity=config.min_tasks, max_capacity=config.max_tasks
        )
        scaling.scale_on_metric(
            "Backlog",
            metric=backlog,
            adjustment_type=autoscaling.AdjustmentType.EXACT_CAPACITY,
            scaling_steps=backlog_steps(
                config.min_tasks,
                config.max_tasks,
                service.concurrency_with(config.backend_for(service)),
            ),
            cooldown=cdk.Duration.minutes(1),
        )

    def _dead_letter_alarm(self, queue_name: str, dlq: sqs.Queue) -> None:
        # One per topology queue, whether or not its service is deployed here: a dead letter
        # is a video that needs an operator, wherever it comes from.
        depth = cloudwatch.Alarm(
            self,
            f"DlqDepth-{queue_name}",
            alarm_name=physical_name(self.config.prefix, f"{queue_name}-dlq-depth"),
            alarm_description=f"Messages of the {queue_name} queue were dead-lettered.",
            metric=dlq.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        depth.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))

    def _alarms(self, service: ServiceDef) -> None:
        queue = self.queues[service.queue]
        age = cloudwatch.Alarm(
            self,
            f"OldestMessage-{service.name}",
            alarm_name=physical_name(self.config.prefix, f"{service.name}-oldest-message"),
            alarm_description=f"{service.name} is not keeping up with its queue.",
            metric=queue.metric_approximate_age_of_oldest_message(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            threshold=self.config.oldest_message_alarm_s,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        age.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))


#: Step scaling policies hold a bounded list of steps: above this many task counts the steps
#: are spread evenly between 1 and ``max_tasks``.
MAX_SCALING_STEPS = 10


def backlog_steps(
    min_tasks: int, max_tasks: int, per_task: int = 1
) -> list[autoscaling.ScalingInterval]:
    """Exact task counts by backlog (waiting + in-flight messages of the service's queue).

    An empty queue means ``min_tasks``; otherwise enough tasks that every message is worked on
    at once, ``ceil(backlog / per_task)`` (``per_task``: the messages one task handles at once,
    its concurrency), rounded up to the next step, at least one and at most ``max_tasks``. So a
    CPU-bound service that takes one video per task gets a task per waiting video, and a
    service that takes four gets one per four.

    Raises:
        ValueError: ``per_task`` is below 1.
    """
    if per_task < 1:
        raise ValueError(f"per_task must be at least 1, got {per_task}")
    floor = max(1, min_tasks)
    if max_tasks <= MAX_SCALING_STEPS:
        counts = list(range(1, max_tasks + 1))
    else:
        # One step is kept for the floor below.
        parts = MAX_SCALING_STEPS - 1
        counts = sorted({-(-max_tasks * i // parts) for i in range(1, parts + 1)})
    counts = [floor, *(c for c in counts if c > floor)]
    steps = [autoscaling.ScalingInterval(upper=0, change=min_tasks)]
    below = 0  # tasks of the step before: they take up to below * per_task messages
    for tasks in counts:
        steps.append(autoscaling.ScalingInterval(lower=below * per_task + 1, change=tasks))
        below = tasks
    return steps
