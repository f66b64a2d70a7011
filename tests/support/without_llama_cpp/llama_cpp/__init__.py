# Put first on PYTHONPATH, this makes `import llama_cpp` fail as on a machine without the `llm`
# extra — a fault the tests cannot cause otherwise in a venv that has it installed.
raise ImportError("llama_cpp is not installed (simulated by the tests)")
