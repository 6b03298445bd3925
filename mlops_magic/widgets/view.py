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

    def _repr_html_(self) -> str:
        return self.static_html()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = self.summary()
        return bundle

    def __repr__(self) -> str:
        return self.summary()


def chart_layout() -> widgets.Layout:
    """A chart image at its own size (a box would stretch it to its width), shrunk to fit a narrow notebook."""
    return widgets.Layout(max_width="100%", height="auto", align_self="flex-start")
