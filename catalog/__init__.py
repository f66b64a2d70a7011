"""The catalog: knowledge bases, files, chunks, tasks and conversations in a SQL database (the record of truth)."""

from catalog.database import Database
from catalog.models import Chunk, Conversation, File, FileStatus, KnowledgeBase, Message, Task

__all__ = ["Chunk", "Conversation", "Database", "File", "FileStatus", "KnowledgeBase", "Message", "Task"]
