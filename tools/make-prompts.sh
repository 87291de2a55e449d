#!/usr/bin/env bash
# Generate the hotline's prompts and music on hold as 8 kHz 16-bit mono WAV,
# the format Asterisk's format_wav plays without transcoding.
#
#   tools/make-prompts.sh [CONFIG_DIR] [OUT_DIR]
#       CONFIG_DIR  default config      (prompts.yaml: prompt id -> sound names, Mandarin text)
#       OUT_DIR     default asterisk-conf
#
# Every sound name of config/prompts.yaml becomes OUT_DIR/sounds/<sound name>.wav
# (hotline/zh/goodbye -> asterisk-conf/sounds/hotline/zh/goodbye.wav), spoken by
# espeak-ng: Mandarin (`-v cmn`) from the prompt's `text`, any other language
# from OUT_DIR/sounds/texts.<language>.tsv.  A "(N)" in a text (a figure the
# engine says separately) is spoken as 几 ("a few").  A prompt without text named
# `beep` becomes a 1 kHz tone.  OUT_DIR/moh/hotline-hold.wav is a soft tone loop.
#
# These are stand-ins: a city replaces them with recorded prompts of the same
# names and format (sox in.wav -r 8000 -c 1 -b 16 out.wav).
#
# Needs: espeak-ng, sox (Debian packages), and the project's .venv (to read YAML).
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-config}
out=${2:-asterisk-conf}
# espeak-ng speed (words per minute): its Mandarin is slow at the default 175.
rate_zh=${PROMPT_RATE_ZH:-260}
rate_other=${PROMPT_RATE:-190}
python=${PYTHON:-.venv/bin/python}

for tool in espeak-ng sox "$python"; do
    command -v "$tool" >/dev/null || { echo "make-prompts: $tool not found" >&2; exit 2; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One line per sound to make: <language> <TAB> <sound name> <TAB> <prompt id> <TAB> <text>
"$python" - "$config/prompts.yaml" >"$tmp/list" <<'PY'
import sys
from ruamel.yaml import YAML

prompts = YAML(typ="safe").load(open(sys.argv[1], encoding="utf-8"))["prompts"]
for prompt_id, prompt in prompts.items():
    for language, sound in prompt["sounds"].items():
        text = (prompt.get("text") or "") if language == "zh" else ""
        print(f"{language}\t{sound}\t{prompt_id}\t{text.replace('（N）', '几')}")
PY

# Trim leading/trailing silence, shorten pauses to 0.25 s, normalise, resample
# to 8 kHz 16-bit mono.
to_asterisk() {
    sox "$1" -r 8000 -c 1 -b 16 -e signed-integer "$2" \
        silence -l 1 0.02 0.5% -1 0.25 0.5% reverse silence 1 0.02 0.5% reverse \
        norm -3 pad 0.1 0.2
}

made=0
while IFS=$'\t' read -r language sound prompt_id text; do
    target="$out/sounds/$sound.wav"
    mkdir -p "$(dirname "$target")"
    if [ "$language" != "zh" ]; then
        table="$out/sounds/texts.$language.tsv"
        text=$(awk -F'\t' -v id="$prompt_id" '$1 == id { print $2 }' "$table" 2>/dev/null || true)
    fi
    if [ -z "$text" ] && [ "$prompt_id" = "beep" ]; then
        sox -n -r 8000 -c 1 -b 16 -e signed-integer "$target" synth 0.25 sine 1000 vol 0.4
    elif [ -z "$text" ]; then
        echo "make-prompts: $prompt_id ($language): no text, $target not made" >&2
        continue
    else
        voice=$language rate=$rate_other
        [ "$language" = "zh" ] && voice=cmn rate=$rate_zh
        espeak-ng -v "$voice" -s "$rate" -w "$tmp/raw.wav" "$text"
        to_asterisk "$tmp/raw.wav" "$target"
    fi
    made=$((made + 1))
done <"$tmp/list"

# Music on hold: a slow, quiet four-note figure (about 8 s), looped by Asterisk.
mkdir -p "$out/moh"
notes=()
for note in C4 E4 G4 E4 D4 F4 A4 F4; do
    sox -n -r 8000 -c 1 -b 16 -e signed-integer "$tmp/n-$note-${#notes[@]}.wav" \
        synth 1 sine "$note" fade q 0.1 1 0.4 vol 0.25
    notes+=("$tmp/n-$note-${#notes[@]}.wav")
done
sox "${notes[@]}" "$out/moh/hotline-hold.wav"

echo "make-prompts: $made prompts in $out/sounds, music on hold in $out/moh ($(du -sh "$out/sounds" "$out/moh" | awk '{print $1}' | paste -sd/))"
