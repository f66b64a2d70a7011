"""Errors of the catalog.

    CatalogError
     ├── NotFound           a knowledge base, file or task does not exist
     ├── Conflict           a name is taken
     └── EmbedderMismatch   a KB built with one embedder is searched or written with another

Each carries a stable `code` that the API shows.
"""


class CatalogError(Exception):
    code = "catalog_error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class NotFound(CatalogError):
    code = "not_found"


class Conflict(CatalogError):
    code = "conflict"


class EmbedderMismatch(Conflict):
    code = "embedder_mismatch"
