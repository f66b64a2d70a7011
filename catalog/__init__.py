"""The catalog: knowledge bases, files, chunks and tasks in a SQL database (the record of truth)."""

from catalog.database import Database
from catalog.models import Chunk, File, FileStatus, KnowledgeBase, Task

__all__ = ["Chunk", "Database", "File", "FileStatus", "KnowledgeBase", "Task"]
