"""Offline synthetic emotional speech corpus (festival TTS + phone-timed viseme targets)."""
