"""Tidy the generated tree."""

import os
from pathlib import Path


def remove_empty_directories(root: Path) -> None:
    """Drop directories that conditional file names left empty (deepest first), so both tools give the same tree."""
    for directory, _subdirectories, _files in os.walk(root, topdown=False):
        path = Path(directory)
        if path != root and ".git" not in path.relative_to(root).parts and not any(path.iterdir()):
            path.rmdir()
