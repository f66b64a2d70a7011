"""Request and response bodies of the HTTP API, one module per resource; every name is re-exported here."""

from kb_server.schemas.cancel import CancelPending, CancelRequest, CancelResult
from kb_server.schemas.chat import (
    AnswerSentence,
    ChatRequest,
    ChatResponse,
    ChatTurn,
    Citation,
    RewriteRequest,
    RewriteResponse,
)
from kb_server.schemas.common import MAX_ID, ErrorBody, UploadError
from kb_server.schemas.conversations import (
    ConversationCreate,
    ConversationDetail,
    ConversationList,
    ConversationPublic,
    ConversationRename,
    MessagePublic,
)
from kb_server.schemas.files import FileAccepted, FileList, FilePublic, UploadResult
from kb_server.schemas.health import Health, Readiness
from kb_server.schemas.kbs import KB_NAME_PATTERN, MAX_KBS, KBChoice, KBCreate, KBList, KBPublic
from kb_server.schemas.reembed import ReembedCreate, ReembedPublic
from kb_server.schemas.search import KBSearchRequest, SearchHit, SearchRequest, SearchResponse
from kb_server.schemas.tasks import TaskProgress, TaskPublic
from kb_server.schemas.urls import (
    UrlAccepted,
    UrlPagePublic,
    UrlRefreshChange,
    UrlRequestPublic,
    UrlSubmit,
    UrlSubmitResult,
)

__all__ = [
    "KB_NAME_PATTERN",
    "MAX_ID",
    "MAX_KBS",
    "AnswerSentence",
    "CancelPending",
    "CancelRequest",
    "CancelResult",
    "ChatRequest",
    "ChatResponse",
    "ChatTurn",
    "Citation",
    "ConversationCreate",
    "ConversationDetail",
    "ConversationList",
    "ConversationPublic",
    "ConversationRename",
    "ErrorBody",
    "FileAccepted",
    "FileList",
    "FilePublic",
    "Health",
    "KBChoice",
    "KBCreate",
    "KBList",
    "KBPublic",
    "KBSearchRequest",
    "MessagePublic",
    "Readiness",
    "ReembedCreate",
    "ReembedPublic",
    "RewriteRequest",
    "RewriteResponse",
    "SearchHit",
    "SearchRequest",
    "SearchResponse",
    "TaskProgress",
    "TaskPublic",
    "UploadError",
    "UploadResult",
    "UrlAccepted",
    "UrlPagePublic",
    "UrlRefreshChange",
    "UrlRequestPublic",
    "UrlSubmit",
    "UrlSubmitResult",
]
