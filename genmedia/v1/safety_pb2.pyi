from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SafetyCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAFETY_CATEGORY_UNSPECIFIED: _ClassVar[SafetyCategory]
    SAFETY_CATEGORY_SEXUAL: _ClassVar[SafetyCategory]
    SAFETY_CATEGORY_SEXUAL_MINORS: _ClassVar[SafetyCategory]
    SAFETY_CATEGORY_VIOLENCE: _ClassVar[SafetyCategory]
    SAFETY_CATEGORY_HATE: _ClassVar[SafetyCategory]
    SAFETY_CATEGORY_SELF_HARM: _ClassVar[SafetyCategory]
    SAFETY_CATEGORY_WEAPONS: _ClassVar[SafetyCategory]
    SAFETY_CATEGORY_REAL_PERSON: _ClassVar[SafetyCategory]
    SAFETY_CATEGORY_COPYRIGHT: _ClassVar[SafetyCategory]
    SAFETY_CATEGORY_FACE: _ClassVar[SafetyCategory]

class SafetyAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAFETY_ACTION_UNSPECIFIED: _ClassVar[SafetyAction]
    SAFETY_ACTION_ALLOW: _ClassVar[SafetyAction]
    SAFETY_ACTION_FLAG: _ClassVar[SafetyAction]
    SAFETY_ACTION_BLUR: _ClassVar[SafetyAction]
    SAFETY_ACTION_BLOCK: _ClassVar[SafetyAction]
SAFETY_CATEGORY_UNSPECIFIED: SafetyCategory
SAFETY_CATEGORY_SEXUAL: SafetyCategory
SAFETY_CATEGORY_SEXUAL_MINORS: SafetyCategory
SAFETY_CATEGORY_VIOLENCE: SafetyCategory
SAFETY_CATEGORY_HATE: SafetyCategory
SAFETY_CATEGORY_SELF_HARM: SafetyCategory
SAFETY_CATEGORY_WEAPONS: SafetyCategory
SAFETY_CATEGORY_REAL_PERSON: SafetyCategory
SAFETY_CATEGORY_COPYRIGHT: SafetyCategory
SAFETY_CATEGORY_FACE: SafetyCategory
SAFETY_ACTION_UNSPECIFIED: SafetyAction
SAFETY_ACTION_ALLOW: SafetyAction
SAFETY_ACTION_FLAG: SafetyAction
SAFETY_ACTION_BLUR: SafetyAction
SAFETY_ACTION_BLOCK: SafetyAction

class ClassifyPromptRequest(_message.Message):
    __slots__ = ("prompt",)
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    def __init__(self, prompt: _Optional[str] = ...) -> None: ...

class ClassifyImageRequest(_message.Message):
    __slots__ = ("image",)
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    def __init__(self, image: _Optional[bytes] = ...) -> None: ...

class Box(_message.Message):
    __slots__ = ("x", "y", "width", "height")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    x: int
    y: int
    width: int
    height: int
    def __init__(self, x: _Optional[int] = ..., y: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class CategoryVerdict(_message.Message):
    __slots__ = ("category", "score", "action", "source", "evidence", "boxes")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    category: SafetyCategory
    score: float
    action: SafetyAction
    source: str
    evidence: str
    boxes: _containers.RepeatedCompositeFieldContainer[Box]
    def __init__(self, category: _Optional[_Union[SafetyCategory, str]] = ..., score: _Optional[float] = ..., action: _Optional[_Union[SafetyAction, str]] = ..., source: _Optional[str] = ..., evidence: _Optional[str] = ..., boxes: _Optional[_Iterable[_Union[Box, _Mapping]]] = ...) -> None: ...

class SafetyVerdict(_message.Message):
    __slots__ = ("action", "categories", "policy", "policy_version", "rules_version", "model_versions", "blurred")
    class ModelVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    RULES_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    BLURRED_FIELD_NUMBER: _ClassVar[int]
    action: SafetyAction
    categories: _containers.RepeatedCompositeFieldContainer[CategoryVerdict]
    policy: str
    policy_version: str
    rules_version: str
    model_versions: _containers.ScalarMap[str, str]
    blurred: bool
    def __init__(self, action: _Optional[_Union[SafetyAction, str]] = ..., categories: _Optional[_Iterable[_Union[CategoryVerdict, _Mapping]]] = ..., policy: _Optional[str] = ..., policy_version: _Optional[str] = ..., rules_version: _Optional[str] = ..., model_versions: _Optional[_Mapping[str, str]] = ..., blurred: _Optional[bool] = ...) -> None: ...
