"""Adapters that put specmeta behind the metadata interfaces of LLM servers.

`specmeta.integrations.sglang`: the metadata path of SGLang's sparse-attention
backend (NSA, later DSA). Each adapter needs only what its server passes in;
none imports the server.
"""
