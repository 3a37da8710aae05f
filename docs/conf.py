"""Sphinx configuration of the mbl-avalanche documentation.

Build (from the repository root, warnings are errors)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

Pages are MyST Markdown; notebooks under ``tutorials/`` are executed at every build (myst-nb).
``reference/columns.md`` is generated below from the package's record schema.
"""

from __future__ import annotations

from pathlib import Path

import mbl_avalanche

DOCS = Path(__file__).resolve().parent

# -- Project ------------------------------------------------------------------------------------

project = "mbl-avalanche"
author = "the mbl-avalanche authors"
copyright = "the mbl-avalanche authors"
version = mbl_avalanche.__version__
release = mbl_avalanche.__version__

# -- Generated pages ----------------------------------------------------------------------------


def _columns_markdown() -> str:
    """The Markdown of ``reference/columns.md``, generated from the record schema."""
    from mbl_avalanche.record import columns_markdown

    text = columns_markdown()
    return text if text.endswith("\n") else text + "\n"


def _write_if_changed(path: Path, text: str) -> None:
    # rewriting an unchanged file would only make Sphinx re-read it
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


_write_if_changed(DOCS / "reference" / "columns.md", _columns_markdown())

# -- General ------------------------------------------------------------------------------------

extensions = [
    "myst_nb",  # MyST Markdown pages and executed notebooks (loads myst_parser itself)
    "numpydoc",
    "sphinx.ext.autodoc",
    # MathJax served with the site, not from a CDN: the pages render maths offline (a cluster
    # login node, this build machine)
    "sphinx-mathjax-offline",
    # no sphinx.ext.intersphinx: the build machines have no network
]

# Prose pages are MyST Markdown; the API pages (api/*.rst) are reStructuredText wrappers around
# ``automodule``: inside MyST's {eval-rst} every section title of a module docstring
# ("Conventions", "Numerics") becomes an explicit, site-wide label, and equal titles in two
# modules then collide ("duplicate label"); in an .rst page they stay local to the page.
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "jupyter_execute",
    "**.ipynb_checkpoints",
    "_snippets",  # fragments pulled into several pages with {include}
    "results/*/report.md",  # published reports: data files, summarised in results/index.md
]

# -- MyST ---------------------------------------------------------------------------------------

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- Notebook execution (myst-nb) ---------------------------------------------------------------

nb_execution_mode = "force"  # every build runs every notebook: the tutorials are tests
nb_execution_raise_on_error = True
nb_execution_timeout = 120  # seconds per cell; the tutorial takes a few seconds in all
nb_execution_show_tb = True
nb_merge_streams = True

# -- autodoc / numpydoc -------------------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
autodoc_typehints = "signature"
add_module_names = False

numpydoc_show_class_members = False  # autodoc :members: lists them once
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()  # our docstrings are not numpydoc-validated
numpydoc_xref_param_type = False  # no intersphinx, so numpy/pandas types would not resolve
numpydoc_attributes_as_param_list = True

# -- HTML ---------------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"mbl-avalanche {release}"
html_theme_options = {
    "navbar_start": ["navbar-logo"],
    "navbar_center": ["navbar-nav"],
    "navbar_end": ["theme-switcher"],
    "header_links_before_dropdown": 8,
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "quickstart": [], "conventions": [], "api": []}
html_show_sourcelink = False
