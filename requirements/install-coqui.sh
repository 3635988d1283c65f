#!/usr/bin/env bash
# Install the optional Coqui engine into the environment of the given python
# (default: .venv/bin/python), as requirements/coqui.txt explains:
#   requirements/install-coqui.sh [PYTHON]
# torchaudio on PyPI is built against another torch, so its compiled parts fail
# to load; VITS inference needs only its pure-Python part, so they are removed.
set -euo pipefail
python=${1:-.venv/bin/python}
"$python" -m pip install --quiet -r "$(dirname "$0")/coqui.txt"
torchaudio=$("$python" -c 'import importlib.util as u, pathlib as p; print(p.Path(u.find_spec("torchaudio").origin).parent)')
rm -f "$torchaudio"/lib/*.so
"$python" -c "import TTS.api"
