"""The base of every view: a ``VBox`` that also carries static HTML and a text summary."""

from __future__ import annotations

import ipywidgets as widgets


class View(widgets.VBox):
    """A widget whose static HTML (``_repr_html_``) and text (``__repr__``) read well without a kernel.

    Jupyter shows the live widget; nbconvert, GitHub and terminals fall back to the HTML or text.
    """

    def static_html(self) -> str:
        raise NotImplementedError

    def summary(self) -> str:
        raise NotImplementedError

    def shown_html(self) -> str:
        """The static HTML that goes with the widget into the notebook (a view may leave out what it has not drawn yet)."""
        return self.static_html()

    def _repr_html_(self) -> str:
        return self.static_html()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self.shown_html()
        bundle["text/plain"] = self.summary()
        return bundle

    def __repr__(self) -> str:
        return self.summary()


def html(value: str = "", layout: widgets.Layout | None = None) -> widgets.HTML:
    """An HTML widget that scrolls sideways when its content is wider than the notebook (a wide table
    is never cut at the right edge: the widget's content box otherwise spills past the output area)."""
    layout = layout or widgets.Layout()
    layout.overflow = "auto hidden"
    return widgets.HTML(value, layout=layout)


def prose(markup: str) -> str:
    """``markup`` at a reading line height: an HTML widget lays its text out at a form row's (28 px)."""
    return f'<div style="line-height:1.4">{markup}</div>'


def chart_layout() -> widgets.Layout:
    """A chart image at its own size (a box would stretch it to its width), shrunk to fit a narrow notebook."""
    return widgets.Layout(max_width="100%", height="auto", align_self="flex-start")
