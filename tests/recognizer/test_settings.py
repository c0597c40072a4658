"""How many keyframes a recognizer worker analyses at once, by default and when set."""

from __future__ import annotations

import os

import pytest

from recognizer.settings import RecognizerSettings, usable_cpus


def test_usable_cpus_are_this_process_s_affinity() -> None:
    # GIVEN this process, WHEN its usable CPUs are counted, THEN they are those it may run on
    assert usable_cpus() == len(os.sched_getaffinity(0))


def test_local_default_follows_the_cpus_up_to_four() -> None:
    # GIVEN the local backend with no setting
    settings = RecognizerSettings(backend="local")
    # THEN it analyses one keyframe per usable CPU, never more than four
    assert settings.keyframes_at_once() == max(1, min(usable_cpus(), 4))


def test_local_default_is_bounded_on_a_large_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a process allowed 32 CPUs
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(32)))
    # WHEN the local backend's default is asked, THEN it stays at four
    assert RecognizerSettings(backend="local").keyframes_at_once() == 4


def test_one_cpu_analyses_one_keyframe_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    assert RecognizerSettings(backend="local").keyframes_at_once() == 1


def test_rekognition_default_is_its_calls_in_flight() -> None:
    settings = RecognizerSettings(backend="rekognition", max_concurrent_calls=7)
    assert settings.keyframes_at_once() == 7


def test_the_setting_wins_over_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEOSENSE_RECOGNIZER_KEYFRAME_PARALLELISM", "3")
    assert RecognizerSettings(backend="local").keyframes_at_once() == 3
    assert RecognizerSettings(backend="rekognition").keyframes_at_once() == 3
