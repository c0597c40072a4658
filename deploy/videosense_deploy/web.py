"""The web app as a deployed service: its compose entry, and on AWS a Fargate service behind an
Application Load Balancer that authenticates every request, with a Cognito user pool (the
default) or an external OpenID Connect provider.

The web app is not a queue consumer, so it is not a row of the service table: it reads the
document table and the bucket, writes only new uploads and the ``request.json`` of the clip
requests it sends (``sqs:SendMessage`` to the clipper's queue alone), and reads the search index
the indexer writes. Nothing reaches it without signing in: the HTTPS listener's every rule
starts with the authentication action (Cognito or OIDC, unauthenticated requests sent to sign
in), plain HTTP only redirects to HTTPS, and the tasks accept traffic from the load balancer
alone (the target group's health checks go to the tasks directly, not through a listener).
An OIDC client secret is read from Secrets Manager when CloudFormation deploys the listener:
the template holds a reference to the secret, never its value. See ``docs/architecture.md``
("The web app").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_actions as elb_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from videosense_deploy.environment import Deployment, common_environment
from videosense_shared.layout import CLIPS_PREFIX, DOCUMENTS_PREFIX, FRAMES_PREFIX
from videosense_shared.settings import physical_name
from videosense_shared.topology import CLIPPER

if TYPE_CHECKING:
    from aws_cdk import aws_dynamodb as dynamodb

#: Name of the compose service and the ECS service.
WEB_NAME = "web"
#: The web image's Dockerfile, relative to the repository root (the build context).
WEB_DOCKERFILE = "src/videosense/web/Dockerfile"
WEB_COMMAND = ("python", "-m", "videosense.web")
WEB_PORT = 8080
HEALTH_PATH = "/api/health"


def web_environment(deployment: Deployment) -> dict[str, str]:
    """What the web container reads besides the search settings."""
    return {
        **common_environment(deployment),
        "VIDEOSENSE_WEB_HOST": "0.0.0.0",  # inside its container; published or behind the ALB
        "VIDEOSENSE_WEB_PORT": str(WEB_PORT),
    }


def compose_web(
    aws_env: dict[str, str], deployment: Deployment, emulator_port: int, search_volume: str
) -> dict[str, Any]:
    """The compose service of the web app, published on 127.0.0.1 only (no authentication
    locally), reading the search index the indexer writes: the deployment's search settings
    and ``search_volume`` (``name:mount``), the indexer's own."""
    return {
        "build": {"context": ".", "dockerfile": WEB_DOCKERFILE},
        "image": "videosense/web:local",
        "command": list(WEB_COMMAND),
        "environment": {
            **aws_env,
            **web_environment(deployment),
            # The browser reaches the emulator on the published port, not by its compose name.
            "VIDEOSENSE_WEB_MEDIA_ENDPOINT_URL": f"http://localhost:{emulator_port}",
            **deployment.search,
        },
        "ports": [f"127.0.0.1:{WEB_PORT}:{WEB_PORT}"],
        "volumes": [search_volume],
        "depends_on": {"provision": {"condition": "service_completed_successfully"}},
        "restart": "unless-stopped",
        "stop_signal": "SIGTERM",
        "stop_grace_period": "30s",
    }


@dataclass(frozen=True)
class OidcProvider:
    """An external OpenID Connect identity provider the load balancer signs users in with.

    The endpoints are the provider's (its ``/.well-known/openid-configuration`` lists them);
    ``client_secret`` names a Secrets Manager secret (its name or ARN) holding the client
    secret, as a plain string or, with ``client_secret_field``, in a field of a JSON secret.
    The provider must accept ``https://<domain>/oauth2/idpresponse`` as the redirect URI.
    """

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    user_info_endpoint: str
    client_id: str
    client_secret: str
    client_secret_field: str | None = None
    scope: str = "openid email"

    def __post_init__(self) -> None:
        endpoints = {
            "issuer": self.issuer,
            "authorization endpoint": self.authorization_endpoint,
            "token endpoint": self.token_endpoint,
            "user info endpoint": self.user_info_endpoint,
        }
        for what, url in endpoints.items():
            # The load balancer only talks HTTPS to the provider.
            if not url.startswith("https://"):
                raise ValueError(f"the OIDC {what} must be an https:// URL, got {url!r}")
        if not self.client_id:
            raise ValueError("the OIDC provider needs the load balancer's client id")
        if not self.client_secret or self.client_secret.startswith("{{resolve:"):
            raise ValueError(
                "the OIDC client secret must name a Secrets Manager secret (its name or ARN)"
            )


@dataclass(frozen=True)
class WebConfig:
    """How the web app is reached on AWS.

    ``domain_name`` is the name users open (its DNS record points at the load balancer's,
    output ``WebLoadBalancerDns``); ``certificate_arn`` an ACM certificate for it, since the
    authentication action only exists on HTTPS listeners. ``auth`` chooses who signs users in:
    ``cognito`` (default) a user pool of this stack, its hosted sign-in domain
    ``<auth_domain_prefix>.auth.<region>.amazoncognito.com``, users created by an administrator
    (self sign-up is off); ``oidc`` the external provider ``oidc`` (no user pool is created).
    """

    domain_name: str
    certificate_arn: str
    auth_domain_prefix: str = ""
    allowed_cidr: str = "0.0.0.0/0"  # who may reach the sign-in page at all
    cpu: int = 256
    memory_mib: int = 512
    tasks: int = 1
    auth: Literal["cognito", "oidc"] = "cognito"
    oidc: OidcProvider | None = None

    def __post_init__(self) -> None:
        if not self.domain_name or not self.certificate_arn:
            raise ValueError("the web app needs a domain name and its certificate")
        if self.auth not in ("cognito", "oidc"):
            raise ValueError(f"unknown web sign-in {self.auth!r}: cognito or oidc")
        if self.auth == "cognito" and not self.auth_domain_prefix:
            raise ValueError("the web app signing in with Cognito needs a sign-in prefix")
        if self.auth == "oidc" and self.oidc is None:
            raise ValueError("the web app signing in with OIDC needs the provider's settings")


class WebFrontend(Construct):
    """The web app's Fargate service, its load balancer and who signs users in (a user pool of
    its own, or an external OIDC provider).

    ``task_role`` is exposed so that whatever provisions the search index (an OpenSearch
    domain or collection) grants it read access there.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: WebConfig,
        prefix: str,
        deployment: Deployment,
        bucket_name: str,
        uploads_prefix: str,
        table: dynamodb.ITable,
        cluster: ecs.ICluster,
        image: ecs.ContainerImage,
        search_environment: dict[str, str],
        spot: bool,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        vpc = cluster.vpc
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="videosense web: read documents, frames and clips, write uploads, "
            "request clips",
        )
        # The clipper's queue, by the name the stack gives it (the web app finds it by name).
        clipper_queue_arn = (
            f"arn:{cdk.Aws.PARTITION}:sqs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:"
            f"{physical_name(prefix, CLIPPER)}"
        )
        for statement in web_statements(bucket_name, uploads_prefix, table, clipper_queue_arn):
            self.task_role.add_to_policy(statement)

        task = ecs.FargateTaskDefinition(
            self,
            "Task",
            family=physical_name(prefix, WEB_NAME),
            cpu=config.cpu,
            memory_limit_mib=config.memory_mib,
            task_role=self.task_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        task.add_volume(name="tmp")
        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/videosense/{prefix}/{WEB_NAME}",
            retention=log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        container = task.add_container(
            WEB_NAME,
            image=image,
            command=list(WEB_COMMAND),
            environment={**web_environment(deployment), **search_environment},
            logging=ecs.LogDrivers.aws_logs(stream_prefix=WEB_NAME, log_group=log_group),
            readonly_root_filesystem=True,
            port_mappings=[ecs.PortMapping(container_port=WEB_PORT)],
            stop_timeout=cdk.Duration.seconds(30),
        )
        container.add_mount_points(
            ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False)
        )

        alb_group = ec2.SecurityGroup(
            self,
            "LoadBalancerGroup",
            vpc=vpc,
            description="videosense web load balancer: HTTPS (and HTTP to redirect) in",
            allow_all_outbound=False,
        )
        alb_group.add_ingress_rule(ec2.Peer.ipv4(config.allowed_cidr), ec2.Port.tcp(443), "HTTPS")
        alb_group.add_ingress_rule(
            ec2.Peer.ipv4(config.allowed_cidr), ec2.Port.tcp(80), "redirect to HTTPS"
        )
        # The authentication action calls the token (and user info) endpoint from the load
        # balancer: Cognito's or the OIDC provider's.
        alb_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "identity provider")
        task_group = ec2.SecurityGroup(
            self,
            "TaskGroup",
            vpc=vpc,
            description="videosense web tasks: the load balancer in, HTTPS out to AWS APIs",
            allow_all_outbound=False,
        )
        task_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs")
        task_group.add_ingress_rule(alb_group, ec2.Port.tcp(WEB_PORT), "from the load balancer")
        alb_group.add_egress_rule(task_group, ec2.Port.tcp(WEB_PORT), "to the web tasks")

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            service_name=WEB_NAME,
            task_definition=task,
            desired_count=config.tasks,
            assign_public_ip=True,  # egress only (no NAT gateway); inbound from the ALB only
            security_groups=[task_group],
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            capacity_provider_strategies=[
                ecs.CapacityProviderStrategy(
                    capacity_provider="FARGATE_SPOT" if spot else "FARGATE", weight=1
                )
            ],
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=100,
        )

        # Cognito's user pool, when it signs users in (created with the listener's action).
        self.user_pool: cognito.UserPool | None = None
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=True,
            security_group=alb_group,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            drop_invalid_header_fields=True,
        )
        self.load_balancer.add_listener(
            "Http",
            port=80,
            open=False,
            default_action=elbv2.ListenerAction.redirect(protocol="HTTPS", port="443"),
        )
        targets = elbv2.ApplicationTargetGroup(
            self,
            "Targets",
            vpc=vpc,
            port=WEB_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            health_check=elbv2.HealthCheck(path=HEALTH_PATH, healthy_http_codes="200"),
            deregistration_delay=cdk.Duration.seconds(20),
        )
        self.service.attach_to_application_target_group(targets)
        self.targets = targets
        https = self.load_balancer.add_listener(
            "Https",
            port=443,
            open=False,
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            certificates=[
                acm.Certificate.from_certificate_arn(self, "Certificate", config.certificate_arn)
            ],
            # Every request signs in first; only then is it forwarded to the app.
            default_action=self._sign_in(config, prefix, elbv2.ListenerAction.forward([targets])),
        )
        self.https_listener = https
        cdk.CfnOutput(scope, "WebUrl", value=f"https://{config.domain_name}/")
        cdk.CfnOutput(scope, "WebLoadBalancerDns", value=self.load_balancer.load_balancer_dns_name)
        if self.user_pool is not None:
            cdk.CfnOutput(scope, "WebUserPoolId", value=self.user_pool.user_pool_id)

    def _sign_in(
        self, config: WebConfig, prefix: str, then: elbv2.ListenerAction
    ) -> elbv2.ListenerAction:
        """The authentication action in front of ``then``: unauthenticated requests are sent to
        sign in (never let through)."""
        if config.auth == "oidc":
            assert config.oidc is not None  # checked by WebConfig
            oidc = config.oidc
            return elbv2.ListenerAction.authenticate_oidc(
                issuer=oidc.issuer,
                authorization_endpoint=oidc.authorization_endpoint,
                token_endpoint=oidc.token_endpoint,
                user_info_endpoint=oidc.user_info_endpoint,
                client_id=oidc.client_id,
                # A dynamic reference resolved by CloudFormation: the template never holds it.
                client_secret=cdk.SecretValue.secrets_manager(
                    oidc.client_secret, json_field=oidc.client_secret_field
                ),
                scope=oidc.scope,
                on_unauthenticated_request=elbv2.UnauthenticatedAction.AUTHENTICATE,
                allow_https_outbound=False,  # the egress rule above already allows it
                next=then,
            )
        user_pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=physical_name(prefix, "web-users"),
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            password_policy=cognito.PasswordPolicy(min_length=12),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        domain = user_pool.add_domain(
            "SignIn",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=config.auth_domain_prefix),
        )
        client = user_pool.add_client(
            "LoadBalancer",
            generate_secret=True,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[f"https://{config.domain_name}/oauth2/idpresponse"],
            ),
            supported_identity_providers=[
                cognito.UserPoolClientIdentityProvider.COGNITO,
            ],
        )
        self.user_pool = user_pool
        return elb_actions.AuthenticateCognitoAction(
            user_pool=user_pool,
            user_pool_client=client,
            user_pool_domain=domain,
            on_unauthenticated_request=elbv2.UnauthenticatedAction.AUTHENTICATE,
            next=then,
        )


def web_statements(
    bucket_name: str, uploads_prefix: str, table: dynamodb.ITable, clipper_queue_arn: str
) -> list[iam.PolicyStatement]:
    """The web app's permissions: read documents, frames and uploads (to presign the player's
    URL) and clips (to read their records and presign their files), write only new uploads and
    the ``request.json`` record of a clip request, send clip requests to the clipper's queue,
    read the document table."""
    objects = f"arn:{cdk.Aws.PARTITION}:s3:::{bucket_name}"
    return [
        iam.PolicyStatement(
            sid="ReadBucketAreas",
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[
                f"{objects}/{area}*"
                for area in (DOCUMENTS_PREFIX, FRAMES_PREFIX, uploads_prefix, CLIPS_PREFIX)
            ],
        ),
        iam.PolicyStatement(
            sid="WriteUploads",
            actions=["s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[f"{objects}/{uploads_prefix}*"],
        ),
        iam.PolicyStatement(
            # clips/{video_id}/{request_id}/request.json alone: the clip files and result.json
            # are the clipper's to write.
            sid="WriteClipRequests",
            actions=["s3:PutObject"],
            resources=[f"{objects}/{CLIPS_PREFIX}*/*/request.json"],
        ),
        iam.PolicyStatement(
            sid="RequestClips",
            actions=["sqs:SendMessage", "sqs:GetQueueUrl"],
            resources=[clipper_queue_arn],
        ),
        iam.PolicyStatement(
            # Listing finished documents and clip requests; and without it S3 answers 403
            # instead of 404 for the HEAD that checks an upload's name is free.
            sid="ListBucket",
            actions=["s3:ListBucket"],
            resources=[objects],
        ),
        iam.PolicyStatement(
            sid="ReadDocumentTable",
            actions=["dynamodb:GetItem", "dynamodb:Query"],
            resources=[table.table_arn, f"{table.table_arn}/index/*"],
        ),
    ]
