"""Uncertainty of the study's measures, one module per step: `cells` (what each number averages),
`welch` (the t interval over runs and questions), `cell_intervals` (every cell's interval), `resampling`
(the bootstrap over question ids of the question-only intervals), `significance` (sign-flip p-values,
Holm's correction, the smallest detectable effect), `paired` (the study's paired comparisons), `power`
(their detectable effects with more runs) and `study` (from the per-query files of every benchmark)."""
