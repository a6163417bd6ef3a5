"""Benchmark sources: download/mirror, readers into tidy tables, splits and overlap guards.

Every reader yields the same three tables:

- questions:  question_id (parallel across languages where the source's are), lang, text, article, context_id
- candidates: candidate_id, lang, text, article, context_id
- qrels:      question_id, lang, candidate_id (a relevant candidate of the question in `lang`), relevance (its grade, > 0)
"""
