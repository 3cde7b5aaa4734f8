"""File formats: one module per family, each registering its loaders in `qa.formats.registry`.

To read a new kind of file, write a function `(path, bytes) -> Loaded` in a module here, decorate
it with `@loader(".ext")`, and import the module below. Raise `qa.errors.Unreadable` with a reason
a person can act on; any other exception is caught by `qa.sources.load` and reported too.
"""

from qa.formats import delimited, epub, html, images, office, pdf, slides, spreadsheet, text  # noqa: F401  (each registers its loaders)
from qa.formats.registry import LOADERS, Loaded, Loader, Section, loader, supported_suffixes

__all__ = ["LOADERS", "Loaded", "Loader", "Section", "loader", "supported_suffixes"]
