from __future__ import annotations

import json
from io import StringIO

from django.core.management import call_command


def test_voices_lists_engine_id_language_quality_licence_and_rate_then_a_summary(settings, tmp_path):
    settings.TTS_VOICES_DIR = tmp_path / "none"
    settings.TTS_MODELS_DIR = tmp_path
    model = tmp_path / "tts_models--de--thorsten--vits"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model": "vits", "audio": {"sample_rate": 16000}}))
    (model / "model_file.pth").write_bytes(b"")
    (model / "voice.json").write_text(json.dumps({"licence": "CC BY-NC 4.0", "quality": "high"}))

    out = StringIO()
    call_command("voices", "--engine", "piper", stdout=out)
    lines = out.getvalue().splitlines()

    assert lines[0].split() == ["engine", "id", "language", "quality", "licence", "sample", "rate"]
    assert lines[1].split()[:4] == ["piper", "en_US-joe-medium", "en-US", "medium"]
    assert "CC0-1.0" in lines[1]
    assert lines[1].endswith("22050 Hz")
    assert lines[-1] == "1 voice from 1 engine, 0 non-commercial."


def test_voices_filters_by_language(settings, tmp_path):
    settings.TTS_VOICES_DIR = tmp_path
    out = StringIO()
    call_command("voices", "--engine", "piper", "--language", "fr", stdout=out)
    assert out.getvalue().splitlines()[-1] == "0 voices from 0 engines, 0 non-commercial."
