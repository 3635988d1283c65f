"""Coqui synthesis through the real loading path, on a tiny random VITS model.

Runs where the optional extra is installed (requirements/coqui.txt; CI installs
it). The model is built here, so nothing is downloaded.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.needs import missing_reason

pytest.importorskip("TTS", reason=missing_reason("the Coqui extra"))

import torch
from TTS.tts.configs.vits_config import VitsConfig
from TTS.tts.models.vits import Vits, VitsArgs

from tts_engine.engines.base import EngineError
from tts_engine.engines.coqui import CoquiEngine
from tts_engine.speech import render_to_wav

MODEL = "tts_models--en--tiny--vits"
SENTENCE = "It was a bright cold day in April, and the clocks were striking thirteen."


def build_tiny_vits(folder: Path, *, speakers: list[str] | None = None) -> Path:
    """A randomly initialised VITS of about a million weights, saved like a real one."""
    folder.mkdir(parents=True)
    args = VitsArgs(
        hidden_channels=16,
        hidden_channels_ffn_text_encoder=32,
        num_heads_text_encoder=2,
        num_layers_text_encoder=1,
        num_layers_flow=1,
        num_layers_posterior_encoder=1,
        resblock_type_decoder="2",
        resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3]],
        upsample_rates_decoder=[8, 8, 4],
        upsample_initial_channel_decoder=16,
        upsample_kernel_sizes_decoder=[16, 16, 8],
        init_discriminator=False,
    )
    if speakers:
        (folder / "speaker_ids.json").write_text(json.dumps({name: i for i, name in enumerate(speakers)}))
        args.use_speaker_embedding = True
        args.num_speakers = len(speakers)
        args.speakers_file = str(folder / "speaker_ids.json")
    config = VitsConfig(model_args=args, use_phonemes=False, text_cleaner="english_cleaners")
    config.audio.sample_rate = 22050
    torch.manual_seed(0)
    model = Vits(config)
    torch.save({"model": model.state_dict()}, folder / "model_file.pth")
    config.save_json(str(folder / "config.json"))
    (folder / "voice.json").write_text(json.dumps({"licence": "CC BY-NC 4.0", "quality": "test"}))
    return folder


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("coqui-models")
    build_tiny_vits(root / MODEL)
    build_tiny_vits(root / "tts_models--en--pair--vits", speakers=["alice", "bob"])
    return root


@pytest.fixture(scope="module")
def engine(models_dir: Path) -> CoquiEngine:
    return CoquiEngine(models_dir=models_dir, device="cpu")


def test_a_local_model_is_listed_with_its_licence_flagged(engine):
    voice = engine.voice(MODEL)
    assert (voice.language, voice.sample_rate, voice.licence) == ("en", 22050, "CC BY-NC 4.0")
    assert voice.non_commercial


def test_synthesis_loads_the_local_model_and_yields_one_int16_array_per_chunk(engine):
    audio = list(engine.synthesize(["Hello.", SENTENCE], voice_id=MODEL))
    assert [pcm.dtype for pcm in audio] == [np.int16, np.int16]
    assert all(pcm.size > 0 and pcm.any() for pcm in audio)
    assert engine.load(engine.models()[0]) is engine.load(engine.models()[0])


def test_longer_text_gives_longer_audio(engine):
    short, long = engine.synthesize(["Hi.", SENTENCE + " " + SENTENCE], voice_id=MODEL)
    assert len(long) > 3 * len(short)


def test_speed_two_gives_shorter_audio_than_speed_one(engine):
    torch.manual_seed(1)
    (normal,) = engine.synthesize([SENTENCE], voice_id=MODEL, speed=1.0)
    torch.manual_seed(1)
    (fast,) = engine.synthesize([SENTENCE], voice_id=MODEL, speed=2.0)
    assert len(fast) < 0.8 * len(normal)


def test_each_speaker_of_a_multi_speaker_model_can_speak(engine):
    for speaker in ("alice", "bob"):
        (pcm,) = engine.synthesize(["Hello there."], voice_id=f"tts_models--en--pair--vits:{speaker}")
        assert pcm.size > 0


def test_batched_synthesis_cuts_each_padded_row_to_its_own_length(models_dir):
    batched = CoquiEngine(models_dir=models_dir, device="cpu", batch_size=3)
    chunks = ["Hi.", SENTENCE, "A middling sentence here.", "Bye."]
    audio = list(batched.synthesize(chunks, voice_id=MODEL))
    hop = 256
    assert len(audio) == 4
    assert all(pcm.size > 0 and pcm.size % hop == 0 for pcm in audio)
    assert len(audio[0]) < len(audio[2]) < len(audio[1])


def test_a_rendered_chapter_from_coqui_has_timings(engine, tmp_path):
    result = render_to_wav(
        tmp_path / "c.wav", engine=engine, voice_id=MODEL, text="One. Two.", title="Chapter I"
    )
    # The caption is what was said: a Roman chapter number is read, and captioned, as a word.
    assert [s.text for s in result.sentences] == ["Chapter one", "One.", "Two."]
    with wave.open(str(result.path)) as wav:
        assert (wav.getframerate(), wav.getnframes()) == (22050, result.num_samples)


def test_a_model_that_points_at_a_url_is_refused_permanently(tmp_path):
    folder = build_tiny_vits(tmp_path / "remote")
    config = json.loads((folder / "config.json").read_text())
    config["model_args"]["speakers_file"] = "https://example.com/speakers.json"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(EngineError) as caught:
        list(CoquiEngine(models_dir=tmp_path, device="cpu").synthesize(["Hello."], voice_id="remote"))
    assert caught.value.retryable is False


def test_a_corrupt_checkpoint_is_a_permanent_error(tmp_path):
    folder = build_tiny_vits(tmp_path / "broken")
    (folder / "model_file.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(EngineError) as caught:
        list(CoquiEngine(models_dir=tmp_path, device="cpu").synthesize(["Hello."], voice_id="broken"))
    assert caught.value.retryable is False


def test_asking_for_cuda_without_a_gpu_is_a_permanent_error(models_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(EngineError) as caught:
        list(CoquiEngine(models_dir=models_dir, device="cuda").synthesize(["Hello."], voice_id=MODEL))
    assert caught.value.retryable is False


def test_a_speaker_the_model_does_not_know_is_a_permanent_error(tmp_path):
    folder = build_tiny_vits(tmp_path / "pair", speakers=["alice", "bob"])
    (folder / "voice.json").write_text(json.dumps({"speakers": ["alice", "carol"]}))
    engine = CoquiEngine(models_dir=tmp_path, device="cpu")
    with pytest.raises(EngineError) as caught:
        list(engine.synthesize(["Hello."], voice_id="pair:carol"))
    assert caught.value.retryable is False
