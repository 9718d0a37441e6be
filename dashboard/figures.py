"""Colours and display helpers for the terminal (pure: values in, text and colours out).

The symbol's chart itself is :mod:`dashboard.linked_chart`.
"""

from __future__ import annotations

AMBER, GREEN, RED, YELLOW, CYAN, GREY = "#ffb000", "#00d26a", "#ff3b3b", "#ffd400", "#27c3ff", "#8a8a8a"
FONT = "DejaVu Sans Mono, Liberation Mono, Menlo, Consolas, monospace"


def rsi_color(value: float | None) -> str:
    """The original's colours: green above 70, red below 30, yellow otherwise."""
    if value is None:
        return GREY
    return GREEN if value > 70 else RED if value < 30 else YELLOW


def macd_color(value: float | None) -> str:
    if value is None:
        return GREY
    return GREEN if value > 0 else RED if value < 0 else YELLOW


def signal_look(signal: str | None) -> tuple[str, str, str]:
    """(symbol, label, colour) of a signal value: UP, DOWN, NEUTRAL, TRAINING or none (warm-up)."""
    looks = {
        "UP": ("▲", "UP", GREEN),
        "DOWN": ("▼", "DOWN", RED),
        "NEUTRAL": ("●", "NEUTRAL", YELLOW),
        "TRAINING": ("◌", "TRAINING", GREY),
    }
    return looks.get(signal or "", ("–", "WARM-UP", GREY))


def fmt_number(value: float | None, digits: int = 2, suffix: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{suffix}"


def fmt_price(value: float | None) -> str:
    """Prices under 10 (FX, rates) get four decimals, the rest two."""
    return fmt_number(value, 4 if value is not None and abs(value) < 10 else 2)


def fmt_percent(fraction: float | None, digits: int = 1) -> str:
    return fmt_number(None if fraction is None else fraction * 100, digits, " %")
