"""Writing figures as reproducible PNG files."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure


def save_png(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write ``fig`` as PNG, creating the folder; fixed metadata so the same figure gives the
    same bytes (no software version or date stamped in)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png", metadata={"Software": None})
    return path
