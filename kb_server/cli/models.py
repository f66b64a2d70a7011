"""`kb-server models`: the chat model presets, which are installed, and which one is configured."""

from __future__ import annotations

import json

from kb_server.runtime.paths import DataPaths
from kb_server.settings import Settings
from llm.inventory import PresetReport, list_presets
from llm.llamacpp_build import LlamaCppBuild, loaded_build


def models_main(settings: Settings, *, as_json: bool) -> int:
    llm = settings.llm
    reports = list_presets(llm, DataPaths(settings.data_dir).cache)
    configured = {"backend": llm.backend, "preset": llm.preset, "model_path": llm.model_path}
    build = loaded_build()
    if as_json:
        listing = {"configured": configured, "llama_cpp": build.to_dict() if build else None}
        print(json.dumps({**listing, "presets": [r.to_dict() for r in reports]}, indent=2))
        return 0
    where = f", model_path {llm.model_path}" if llm.model_path else ""
    print(f"configured: llm.backend {llm.backend}, llm.preset {llm.preset}{where}")
    print(f"llama.cpp:  {_describe_build(build)}\n")
    for report in reports:
        print(_describe(report))
    return 0


def _describe_build(build: LlamaCppBuild | None) -> str:
    if build is None:
        return "llama-cpp-python is not installed (pip install 'kb-server[llm]')"
    built = f"llama-cpp-python {build.version}, built for {' '.join(build.instruction_sets) or 'no SIMD'}"
    if build.amx:
        return f"{built}; AMX build: models load without extra buffer types (slower; see README Set-up)"
    return built


def _describe(r: PresetReport) -> str:
    p = r.preset
    lines = [f"{'*' if r.in_use else ' '} {p.name:<16} {p.display_name}{'  [in use]' if r.in_use else ''}"]
    if p.file is None:
        lines.append(f"    file     {r.path or 'llm.model_path is not set'}")
        return "\n".join(lines)
    if r.state == "not-installed":
        file = f"not installed ({p.install_hint})"
    elif r.state == "installed" and p.file.split:
        file = f"{r.path or '<cache dir>'} (parts installed, joined and verified at the first start)"
    else:
        file = f"{r.path} ({r.state})"
    size = f"{r.size:,} bytes" if r.size is not None else f"{p.file.size:,} bytes expected"
    lines += [
        f"    file     {file}",
        f"    size     {size}",
        f"    sha256   {r.sha256} ({'verified' if r.verified else 'expected'})",
        f"    licence  {p.licence} ({p.licence_note})",
        f"    upstream {p.upstream}",
        f"    source   {_packages(r)}; publisher {p.publisher}",
    ]
    return "\n".join(lines) + "\n"


def _packages(r: PresetReport) -> str:
    assert r.preset.file is not None
    pins = [part.requirement for part in r.preset.file.parts]
    return pins[0] if len(pins) == 1 else f"{pins[0]} … {pins[-1]} ({len(pins)} wheels)"
