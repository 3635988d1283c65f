"""The Coqui catalogue reads files only, so it is tested without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tts_engine.engines.base import EngineError
from tts_engine.engines.coqui import CoquiEngine

REPO = Path(__file__).resolve().parents[2]


def _model(
    root: Path, name: str, *, config: dict | None = None, checkpoint: str = "model_file.pth", **files: object
) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(config or {"model": "vits", "audio": {"sample_rate": 22050}})
    )
    if checkpoint:
        (folder / checkpoint).write_bytes(b"")
    for filename, content in files.items():
        (folder / filename.replace("__", ".")).write_text(json.dumps(content))
    return folder


def test_models_are_listed_with_licence_language_and_rate_without_importing_torch(tmp_path):
    _model(
        tmp_path, "tts_models--en--ljspeech--vits", voice__json={"licence": "Apache-2.0", "quality": "high"}
    )
    (voice,) = CoquiEngine(models_dir=tmp_path).voices()
    assert (voice.engine, voice.id, voice.language, voice.quality) == (
        "coqui",
        "tts_models--en--ljspeech--vits",
        "en",
        "high",
    )
    assert (voice.licence, voice.sample_rate, voice.non_commercial) == ("Apache-2.0", 22050, False)


def test_listing_coqui_voices_does_not_import_torch(tmp_path):
    _model(tmp_path, "tts_models--en--ljspeech--vits")
    probe = (
        "import sys; from pathlib import Path; from tts_engine.engines.coqui import CoquiEngine; "
        f"assert CoquiEngine(models_dir=Path({str(tmp_path)!r})).voices(); "
        "print(sorted({'torch', 'TTS'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "licence", ["CC BY-NC 4.0", "CC-BY-NC-ND-4.0", "CPML", "Non-commercial research only"]
)
def test_non_commercial_licences_are_flagged(tmp_path, licence):
    _model(tmp_path, "tts_models--en--vctk--vits", voice__json={"license": licence})
    (voice,) = CoquiEngine(models_dir=tmp_path).voices()
    assert voice.non_commercial


def test_a_model_without_a_licence_says_unknown(tmp_path):
    _model(
        tmp_path,
        "my-model",
        config={"model": "vits", "phoneme_language": "en-us", "audio": {"sample_rate": 16000}},
    )
    (voice,) = CoquiEngine(models_dir=tmp_path).voices()
    assert (voice.licence, voice.language, voice.non_commercial) == ("unknown", "en-us", False)


def test_each_speaker_of_a_multi_speaker_model_is_a_voice(tmp_path):
    _model(tmp_path, "tts_models--en--vctk--vits", speaker_ids__json={"p226": 1, "p225": 0})
    engine = CoquiEngine(models_dir=tmp_path)
    assert [v.id for v in engine.voices()] == [
        "tts_models--en--vctk--vits:p225",
        "tts_models--en--vctk--vits:p226",
    ]
    with pytest.raises(EngineError):
        engine.voice("tts_models--en--vctk--vits")


def test_folders_without_a_checkpoint_or_of_unsupported_models_are_skipped(tmp_path):
    _model(tmp_path, "no-checkpoint", checkpoint="")
    _model(tmp_path, "xtts", config={"model": "xtts", "audio": {"sample_rate": 24000}})
    _model(tmp_path, "good")
    assert [v.id for v in CoquiEngine(models_dir=tmp_path).voices()] == ["good"]


def test_no_models_dir_means_no_coqui_voices(tmp_path):
    assert CoquiEngine(models_dir=tmp_path / "missing").voices() == []
