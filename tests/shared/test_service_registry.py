"""The service registry: each service's name, queue and stage declared once, and every service
builds its spec from its entry."""

from __future__ import annotations

import importlib

import pytest

from videosense_shared.aws import AwsClients
from videosense_shared.bus import Handler
from videosense_shared.messages import Stage
from videosense_shared.runtime import ServiceSpec
from videosense_shared.services import REGISTRY, ServiceInfo, service_info
from videosense_shared.settings import ConsumerSettings
from videosense_shared.stages import available_stages
from videosense_shared.topology import CAPTIONER, RECOGNIZER, TOPOLOGY

REGISTERED = [pytest.param(info, id=info.name) for info in REGISTRY]


def _no_handler(aws: AwsClients) -> Handler:
    raise AssertionError("not built in these tests")


def test_every_topology_queue_has_exactly_one_registered_consumer() -> None:
    # GIVEN the registry and the topology WHEN queues are compared THEN one service per queue,
    # and names and packages are unique.
    assert sorted(info.queue for info in REGISTRY) == sorted(q.name for q in TOPOLOGY.queues)
    assert len({info.name for info in REGISTRY}) == len(REGISTRY)
    assert len({info.package for info in REGISTRY}) == len(REGISTRY)


def test_each_stage_has_exactly_one_service() -> None:
    # GIVEN the registry WHEN stages are listed THEN every stage is provided, once.
    provided = [info.stage for info in REGISTRY if info.stage is not None]
    assert sorted(provided) == sorted(Stage)


@pytest.mark.parametrize("info", REGISTERED)
def test_each_service_builds_its_spec_from_its_entry(info: ServiceInfo) -> None:
    # GIVEN a registered service WHEN its package builds its spec THEN name, queue and stage
    # are the registry's.
    module = importlib.import_module(f"{info.package}.service")
    spec = module.service()
    assert (spec.name, spec.queue, spec.stage) == (info.name, info.queue, info.stage)


def test_a_spec_cannot_contradict_the_registry() -> None:
    # GIVEN the captioner's name WHEN a spec claims the recognizer's queue THEN it is refused.
    with pytest.raises(ValueError, match="contradict the registry"):
        ServiceSpec(
            name="captioner",
            queue=RECOGNIZER,
            settings=ConsumerSettings(),
            make_handler=_no_handler,
            stage=Stage.CAPTIONS,
        )


def test_an_unregistered_service_declares_its_own_queue() -> None:
    # GIVEN an experiment that is not in the registry WHEN its spec is built THEN it stands.
    spec = ServiceSpec(
        name="captioner-experiment",
        queue=CAPTIONER,
        settings=ConsumerSettings(),
        make_handler=_no_handler,
        stage=Stage.CAPTIONS,
    )
    assert spec.queue == CAPTIONER


def test_lookup_by_name() -> None:
    # GIVEN a name WHEN looked up THEN its entry, or a KeyError naming it.
    assert service_info("frame-extractor").stage == Stage.FRAMES
    with pytest.raises(KeyError, match="dancer"):
        service_info("dancer")


def test_available_stages_are_ordered_and_unique() -> None:
    # GIVEN stages of running services in any order, with repeats and stage-less services
    provided = [Stage.TRANSCRIPT, None, Stage.FRAMES, Stage.TRANSCRIPT, Stage.CAPTIONS]
    # WHEN listed THEN once each, in pipeline order
    assert available_stages(provided) == (Stage.FRAMES, Stage.CAPTIONS, Stage.TRANSCRIPT)
