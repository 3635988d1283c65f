"""Speech engines, one module each; import them through tts_engine.registry."""
