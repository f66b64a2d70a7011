"""kb-server: the FastAPI app, HTTP API, CLI and process supervisor."""
