"""Contact sheet: a PNG anyone can look at to judge a run (rows = moments in time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openlipsync.evaluation.metrics import MOUTH, inter_ocular

THUMB = 180  # pixel height of every cell


def mouth_crop(frame: np.ndarray, marks: np.ndarray, size: int = THUMB) -> np.ndarray:
    """A square crop around the mouth (side ≈ 1.3 inter-ocular distances), resized to ``size``; grey if no face."""
    import cv2

    if not np.isfinite(marks).all():
        return np.full((size, size, 3), 96, np.uint8)
    cx, cy = marks[MOUTH].mean(axis=0)
    half = 0.65 * float(inter_ocular(marks[None])[0])
    h, w = frame.shape[:2]
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    x1, y1 = int(min(w, cx + half)), int(min(h, cy + half))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return np.full((size, size, 3), 96, np.uint8)
    return cv2.resize(frame[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)


def _thumb(frame: np.ndarray) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    return cv2.resize(frame, (max(1, round(w * THUMB / h)), THUMB), interpolation=cv2.INTER_AREA)


def _label(cell: np.ndarray, text: str) -> np.ndarray:
    import cv2

    cell = cell.copy()
    cv2.putText(cell, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(cell, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return cell


def write_contact_sheet(path: Path, rows: list[dict[str, tuple[np.ndarray, np.ndarray | None]]],
                        times: list[float]) -> Path:
    """Write a PNG with one row per moment.

    Each row maps a column title to ``(frame, landmarks)``: with landmarks the cell is a mouth crop,
    without (None) it is the whole frame scaled to the cell height. Columns keep their dict order.
    """
    import cv2

    lines = []
    for row, t in zip(rows, times, strict=True):
        cells: list[np.ndarray] = []
        for title, (frame, marks) in row.items():
            cell = _thumb(frame) if marks is None else mouth_crop(frame, marks)
            cells.append(_label(cell, f"{title} t={t:.2f}s" if not cells else title))
            cells.append(np.full((THUMB, 4, 3), 255, np.uint8))
        lines.append(np.hstack(cells))
        lines.append(np.full((4, lines[-1].shape[1], 3), 255, np.uint8))
    width = max(line.shape[1] for line in lines)
    sheet = np.vstack([np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)), constant_values=255)
                       for line in lines])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return path
