"""Coqui TTS (the ``TTS`` package of coqui-tts): VITS models from local files.

An optional extra (``requirements/coqui.txt``). Every model is a folder under
``TTS_MODELS_DIR``, laid out as Coqui's own model manager leaves it::

    TTS_MODELS_DIR/tts_models--en--ljspeech--vits/
        config.json             # Coqui's model config (its "model" must be "vits")
        model_file.pth          # or model.pth / best_model.pth / checkpoint.pth
        speaker_ids.json        # optional: {"p225": 0, ...}; each speaker is a voice
        voice.json              # optional: {"name", "language", "quality", "licence", "speakers"}

Nothing is downloaded: a model whose config points at a URL is refused, and
the Hugging Face hub is switched offline before Coqui is imported. The licence
comes from ``voice.json`` (or a "license" key in config.json) and is shown in
the catalogue, where non-commercial licences are flagged; without one it reads
"unknown". The language comes from ``voice.json``, else from the folder name
(``tts_models--<language>--...``), else from the config's phoneme language.

``TTS_DEVICE=auto`` uses CUDA when torch sees a GPU, else the CPU with one
thread. On CUDA, chunks are synthesized in padded batches. Voice cloning
(XTTS) is not supported yet.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from tts_engine.conf import tts_config
from tts_engine.engines.base import PCM, Engine, EngineError, Voice

logger = logging.getLogger(__name__)

CHECKPOINT_NAMES = ("model_file.pth", "model.pth", "best_model.pth", "checkpoint.pth")
SPEAKER_FILES = ("speaker_ids.json", "speakers.json")
SUPPORTED_MODELS = frozenset({"vits"})
_REMOTE = re.compile(r"^(?:https?|s3|gs|hf|ftp)://", re.I)
_MAX_WAV_VALUE = 32767.0


@dataclass(frozen=True)
class CoquiModel:
    id: str
    folder: Path
    checkpoint: Path
    config_path: Path
    name: str
    language: str
    quality: str
    licence: str
    sample_rate: int
    speakers: tuple[str, ...]


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _remote_paths(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if _REMOTE.match(value) else []
    if isinstance(value, dict):
        return [url for item in value.values() for url in _remote_paths(item)]
    if isinstance(value, list):
        return [url for item in value for url in _remote_paths(item)]
    return []


def _language(folder: Path, info: dict[str, Any], config: dict[str, Any]) -> str:
    if info.get("language"):
        return str(info["language"])
    parts = folder.name.split("--")
    if len(parts) >= 3 and parts[0] == "tts_models" and parts[1] != "multilingual":
        return parts[1]
    return str(config.get("phoneme_language") or "und").replace("_", "-")


def _speakers(folder: Path, info: dict[str, Any]) -> tuple[str, ...]:
    if info.get("speakers"):
        return tuple(str(s) for s in info["speakers"])
    for name in SPEAKER_FILES:
        ids = _json(folder / name)
        if isinstance(ids, dict) and len(ids) > 1:
            return tuple(sorted(ids, key=lambda s: ids[s]))
    return ()


@functools.lru_cache(maxsize=64)
def _read_model(folder: Path, mtime_ns: int) -> CoquiModel | None:
    # mtime_ns (of config.json) is in the key so an edited config is read again.
    config = _json(folder / "config.json")
    checkpoint = next((folder / n for n in CHECKPOINT_NAMES if (folder / n).is_file()), None)
    if not isinstance(config, dict) or checkpoint is None:
        return None
    if config.get("model") not in SUPPORTED_MODELS:
        logger.warning("Skipping Coqui model %s: model type %r is not supported", folder, config.get("model"))
        return None
    info = _json(folder / "voice.json") or {}
    audio = config.get("audio", {})
    return CoquiModel(
        id=folder.name,
        folder=folder,
        checkpoint=checkpoint,
        config_path=folder / "config.json",
        name=str(info.get("name") or folder.name),
        language=_language(folder, info, config),
        quality=str(info.get("quality") or ""),
        licence=str(info.get("licence") or info.get("license") or config.get("license") or "unknown"),
        sample_rate=int(audio.get("output_sample_rate") or audio["sample_rate"]),
        speakers=_speakers(folder, info),
    )


def discover_models(models_dir: Path | None) -> list[CoquiModel]:
    if models_dir is None or not models_dir.is_dir():
        return []
    models = []
    for config_path in sorted(models_dir.glob("*/config.json")):
        try:
            model = _read_model(config_path.parent, config_path.stat().st_mtime_ns)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("Skipping Coqui model %s: %s", config_path.parent, exc)
            continue
        if model is not None:
            models.append(model)
    return models


@dataclass
class _Loaded:
    folder: Path
    synthesizer: Any  # TTS.utils.synthesizer.Synthesizer
    device: str
    length_scale: float


class CoquiEngine(Engine):
    name = "coqui"
    # Memory grows with the audio of one run, as for Piper; VITS models are of
    # a size, but Coqui's have not been measured here, so a little more room.
    max_chunk_chars = 200

    def __init__(
        self, *, models_dir: Path | None = None, device: str | None = None, batch_size: int | None = None
    ):
        """``batch_size`` defaults to 16 on CUDA and 1 (no padding waste) on the CPU."""
        self._models_dir = models_dir
        self._device = device
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    def models(self) -> list[CoquiModel]:
        return discover_models(self._models_dir if self._models_dir is not None else tts_config().models_dir)

    def voices(self) -> list[Voice]:
        voices = []
        for model in self.models():
            voice = Voice(
                engine=self.name,
                id=model.id,
                name=model.name,
                language=model.language,
                quality=model.quality,
                licence=model.licence,
                sample_rate=model.sample_rate,
            )
            voices.extend(voice.with_speakers(model.speakers))
        return voices

    def model_files(self, voice_id: str) -> list[Path]:
        model, _ = self._resolve(voice_id)
        return [model.checkpoint, model.config_path]

    def _resolve(self, voice_id: str) -> tuple[CoquiModel, str | None]:
        model_id, _, speaker = voice_id.partition(":")
        for model in self.models():
            if model.id == model_id and (speaker in model.speakers if model.speakers else not speaker):
                return model, speaker or None
        raise EngineError(f"coqui has no voice {voice_id!r}", retryable=False)

    def _resolve_device(self, torch: Any) -> str:
        device = self._device or tts_config().device
        has_cuda = bool(torch.cuda.is_available())
        if device == "cuda" and not has_cuda:
            raise EngineError("TTS_DEVICE is 'cuda' but torch sees no GPU", retryable=False)
        return "cuda" if device != "cpu" and has_cuda else "cpu"

    def load(self, model: CoquiModel) -> _Loaded:
        """Load the model through Coqui's own Synthesizer, once per process."""
        with self._lock:
            if self._loaded is not None and self._loaded.folder == model.folder:
                return self._loaded
            self._loaded = None
            remote = _remote_paths(_json(model.config_path))
            if remote:
                raise EngineError(f"{model.config_path} refers to remote files {remote}", retryable=False)
            # Nothing in a VITS load should reach the hub; make sure it cannot.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import torch  # noqa: PLC0415  (a heavy, optional engine: loaded by synthesis workers only)
            from TTS.utils.synthesizer import Synthesizer  # noqa: PLC0415  (a heavy, optional engine)

            device = self._resolve_device(torch)
            if device == "cpu":
                # One process per core scales better than threads (as for Piper).
                torch.set_num_threads(1)
            try:
                synthesizer = Synthesizer(
                    tts_checkpoint=model.checkpoint,
                    tts_config_path=model.config_path,
                    use_cuda=device == "cuda",
                )
            except Exception as exc:  # a missing, truncated or mismatched checkpoint
                raise EngineError(f"cannot load Coqui model {model.folder}: {exc}", retryable=False) from exc
            tts = synthesizer.tts_model
            self._loaded = _Loaded(model.folder, synthesizer, device, float(tts.length_scale))
            return self._loaded

    def synthesize(self, chunks: Iterable[str], *, voice_id: str, speed: float = 1.0) -> Iterator[PCM]:
        self.check_speed(speed)
        model, speaker = self._resolve(voice_id)
        loaded = self.load(model)
        batch_size = self._batch_size or (16 if loaded.device == "cuda" else 1)
        iterator = iter(chunks)
        while batch := list(islice(iterator, batch_size)):
            for chunk in batch:
                self.check_chunk(chunk)
            try:
                yield from self._speak(loaded, batch, speaker, speed)
            except EngineError:
                raise
            except Exception as exc:
                # Out of (GPU) memory and device errors arrive as RuntimeError;
                # the Part's attempt counter bounds the retries.
                raise EngineError(f"Coqui failed on a chunk: {exc}", retryable=True) from exc

    def _speak(self, loaded: _Loaded, batch: list[str], speaker: str | None, speed: float) -> list[PCM]:
        import torch  # noqa: PLC0415  (a heavy, optional engine)

        tts = loaded.synthesizer.tts_model
        languages = tts.language_manager.language_names if tts.language_manager else []
        language = languages[0] if len(languages) == 1 else None
        ids = [tts.tokenizer.text_to_ids(text, language=language) for text in batch]
        spoken = [i for i, sequence in enumerate(ids) if sequence]
        out: list[PCM] = [np.zeros(0, dtype=np.int16) for _ in batch]
        if not spoken:
            return out
        lengths = torch.tensor([len(ids[i]) for i in spoken], dtype=torch.long)
        x = torch.zeros(len(spoken), int(lengths.max()), dtype=torch.long)
        for row, i in enumerate(spoken):
            x[row, : len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
        speaker_ids = None
        if speaker is not None:
            names = tts.speaker_manager.name_to_id if tts.speaker_manager else {}
            if speaker not in names:
                raise EngineError(f"the model has no speaker {speaker!r}", retryable=False)
            speaker_ids = torch.full((len(spoken),), names[speaker], dtype=torch.long).to(loaded.device)
        with self._lock, torch.inference_mode():
            # length_scale is a duration multiplier on the shared model: set it
            # under the lock so threads with different speeds cannot mix them.
            tts.length_scale = loaded.length_scale / speed
            outputs = tts.inference(
                x.to(loaded.device),
                aux_input={
                    "x_lengths": lengths.to(loaded.device),
                    "speaker_ids": speaker_ids,
                    "d_vectors": None,
                },
            )
        wav, y_mask = outputs["model_outputs"], outputs["y_mask"]
        # Padded rows are longer than their sentence; cut each to its frames.
        samples_per_frame = wav.shape[-1] // y_mask.shape[-1]
        frames = y_mask.sum(dim=(1, 2)).long().tolist()
        for row, i in enumerate(spoken):
            audio = wav[row, 0, : frames[row] * samples_per_frame].float().cpu().numpy()
            out[i] = np.clip(audio * _MAX_WAV_VALUE, -_MAX_WAV_VALUE, _MAX_WAV_VALUE).astype(np.int16)
        return out
