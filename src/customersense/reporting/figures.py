"""Figure helpers shared by every figure the run draws: the resolution, a settled layout and a
save that gives identical bytes on every rerun. Matplotlib is imported lazily, no pyplot."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

SAVE_DPI = 150
NO_CURRENCY = "currency not set"


def money_label(what: str, currency: str | None, scale: str = "") -> str:
    """An axis label for an amount that names its currency: ``"net revenue (GBP, log scale)"``."""
    inside = ", ".join(x for x in (currency or NO_CURRENCY, scale) if x)
    return f"{what} ({inside})"


def add_caption(fig: Figure, title: str, caption: str, fontsize: float = 16) -> None:
    """The figure's title with the run's caption (dataset · as of · currency) as its second line:
    one suptitle, so that the constrained layout makes room for both lines."""
    fig.suptitle(f"{title}\n{caption}" if caption else title, fontsize=fontsize, fontweight="bold",
                 linespacing=1.5)


def save_figure(fig: Figure, path: str | PathLike[str]) -> None:
    """Write ``fig`` (format from the suffix, PNG by default), leaving out version and date
    metadata so that reruns give identical bytes; creates the parent directory."""
    import matplotlib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lower().lstrip(".") or "png"
    metadata = {
        "png": {"Software": None},
        "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
        "svg": {"Creator": None, "Date": None},
    }.get(fmt)
    with matplotlib.rc_context({"svg.hashsalt": "customersense"}):
        if fmt == "png" and _is_frozen(fig):
            # The layout is fixed: the tight box can be measured without the dry draw savefig
            # makes first (a whole pass over every artist), the same box to the last bit.
            pad = matplotlib.rcParams["savefig.pad_inches"]
            bbox = fig.get_tightbbox(fig._get_renderer()).padded(pad)
            with _no_layout_engine(fig):
                fig.savefig(path, dpi=SAVE_DPI, bbox_inches=bbox, format=fmt, metadata=metadata)
        else:
            fig.savefig(path, dpi=SAVE_DPI, bbox_inches="tight", format=fmt, metadata=metadata)


def freeze_layout(fig: Figure) -> Figure:
    """Settle the constrained layout (it moves by a hair between its first passes) and fix it,
    so that every later save of the figure draws exactly the same picture.

    Two passes of the layout engine alone: drawing every artist between them (as
    ``draw_without_rendering`` does) gives the same positions, slower.
    """
    engine = fig.get_layout_engine()
    if engine is not None:
        for _ in range(2):
            engine.execute(fig)
    fig.set_layout_engine("none")
    return fig


def _is_frozen(fig: Figure) -> bool:
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    engine = fig.get_layout_engine()
    return engine is None or isinstance(engine, PlaceHolderLayoutEngine)


@contextmanager
def _no_layout_engine(fig: Figure) -> Iterator[None]:
    """No layout engine while saving: with none, savefig skips its dry draw (the layout is fixed)."""
    engine = fig.get_layout_engine()
    fig._layout_engine = None  # set_layout_engine(None) would read the rc layout settings
    try:
        yield
    finally:
        fig._layout_engine = engine
