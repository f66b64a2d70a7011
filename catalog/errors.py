"""Errors of the catalog, and the coded base every domain error of kb-server shares.

    CodedError              a stable `code` and a human `detail` (ingestion's errors derive from it too)
     └── CatalogError
          ├── NotFound      a knowledge base, file or task does not exist
          └── Conflict      a name is taken
               └── EmbedderMismatch   a KB built with one embedder is searched or written with another

Each carries a stable `code` that the API shows.
"""


class CodedError(Exception):
    code = "error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class CatalogError(CodedError):
    code = "catalog_error"


class NotFound(CatalogError):
    code = "not_found"


class Conflict(CatalogError):
    code = "conflict"


class EmbedderMismatch(Conflict):
    code = "embedder_mismatch"
