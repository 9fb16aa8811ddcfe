"""Plain-text tables for the result dataclasses (fit in 100 columns, no third-party formatting)."""

from __future__ import annotations

from collections.abc import Sequence


def fmt(value: object, digits: int = 4) -> str:
    """One cell: integers as integers, floats with ``digits`` significant decimals."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if x.is_integer() and abs(x) < 1e9:
        return str(int(x))
    return f"{x:.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None,
          width: int = 100) -> str:
    """Right-aligned columns under a header line; rows are cut at ``width`` characters."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    lines = [] if title is None else [title[:width]]
    lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths))[:width])
    lines.extend("  ".join(c.rjust(w) for c, w in zip(r, widths))[:width] for r in cells)
    return "\n".join(lines)


def key_values(pairs: Sequence[tuple[str, object]], title: str | None = None) -> str:
    """``key : value`` lines, keys padded to one width."""
    kw = max(len(k) for k, _ in pairs)
    lines = [] if title is None else [title]
    lines.extend(f"{k.ljust(kw)} : {fmt(v)}" for k, v in pairs)
    return "\n".join(lines)
