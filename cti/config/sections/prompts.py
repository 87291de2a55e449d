"""``prompts.yaml``: prompt id -> Asterisk sound name, per language.

Every prompt exists in the primary language (``platform.yaml``
languages.primary); the second language may be missing for a prompt, in
which case the primary sound is played.  A sound name is what follows
``sound:`` in an ARI play request (no file extension).
"""

from __future__ import annotations

from pydantic import Field

from cti.config.sections.platform import LanguageCode
from cti.config.types import FrozenMap, Ident, Section, SoundName, Text


class Prompt(Section):
    sounds: FrozenMap[LanguageCode, SoundName] = Field(
        min_length=1, description="language code -> sound name"
    )
    text: Text | None = Field(default=None, description="what the recording says")


class PromptsFile(Section):
    """Content of ``prompts.yaml``."""

    prompts: FrozenMap[Ident, Prompt] = Field(min_length=1)

    def sound(self, prompt: str, language: str, primary: str) -> str:
        """The sound name of ``prompt`` in ``language``, falling back to ``primary``."""
        sounds = self.prompts[prompt].sounds
        return sounds.get(language) or sounds[primary]
