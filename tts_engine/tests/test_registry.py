from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tts_engine import registry
from tts_engine.engines.base import EngineError

REPO = Path(__file__).resolve().parents[2]


def _modules_after(code: str) -> set[str]:
    # A fresh interpreter, so nothing this test process imported can leak in.
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_importing_the_registry_loads_neither_onnxruntime_nor_torch():
    modules = _modules_after("import tts_engine.registry")
    assert not {"onnxruntime", "torch", "piper", "TTS"} & modules


def test_listing_voices_loads_neither_onnxruntime_nor_torch():
    modules = _modules_after("from tts_engine.registry import list_voices\nassert list_voices(), 'no voices'")
    assert not {"onnxruntime", "torch", "piper", "TTS"} & modules


def test_get_engine_returns_one_instance_per_process():
    assert registry.get_engine() is registry.get_engine("piper") is registry.get_engine("piper")


def test_the_default_voice_is_the_bundled_piper_voice():
    voice = registry.get_voice(registry.DEFAULT_VOICE)
    assert (voice.engine, voice.id, voice.sample_rate) == ("piper", "en_US-joe-medium", 22050)


def test_an_unknown_engine_is_a_permanent_error():
    with pytest.raises(EngineError) as caught:
        registry.get_engine("festival")
    assert caught.value.retryable is False


@pytest.mark.parametrize("key", ["en_US-joe-medium", "festival:kal", "piper:", ""])
def test_a_malformed_voice_key_is_a_permanent_error(key):
    with pytest.raises(EngineError) as caught:
        registry.split_voice_key(key)
    assert caught.value.retryable is False


def test_an_unknown_voice_is_a_permanent_error():
    with pytest.raises(EngineError) as caught:
        registry.get_voice("piper:xx_XX-nobody-low")
    assert caught.value.retryable is False


def test_voices_filter_by_primary_language():
    assert [v.id for v in registry.list_voices(engines=["piper"], language="en-GB")] == ["en_US-joe-medium"]
    assert registry.list_voices(engines=["piper"], language="de") == []
