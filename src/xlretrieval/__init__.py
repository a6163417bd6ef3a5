"""Zero-shot cross-lingual retrieval vs number of target languages, with hybrid-batch fine-tuning.

The science of the study; the Snakemake workflow only wires files to these functions.
"""
