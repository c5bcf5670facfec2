"""The deploy: run by deploy/install.sh in the deploy tools' own virtualenv (deploy/requirements.txt)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine.main import main

sys.exit(main(sys.argv[1:]))
