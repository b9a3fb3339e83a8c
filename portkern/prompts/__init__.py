"""Prompt templates, one Markdown file per prompt kind (rendered by portkern.llm.prompts)."""
