"""Contract of 4.6 (grouped-query attention): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "repeat_kv: result": ("repeat_kv_repeats_each_head",),
    "repeat_kv: raises ValueError": ("repeat_kv_refuses_bad_input",),
    "repeat_kv: dtype": ("repeat_kv_repeats_each_head",),
    "repeat_kv: inputs unchanged": ("repeat_kv_repeats_each_head",),
    "grouped_query_attention: result": ("gqa_matches_attention_per_group",),
    "grouped_query_attention: default mask": ("gqa_default_mask_is_none",),
    "grouped_query_attention: option mask": ("gqa_applies_the_mask",),
    "grouped_query_attention: raises ValueError": ("gqa_matches_attention_per_group",),
    "grouped_query_attention: dtype": ("gqa_matches_attention_per_group",),
    "grouped_query_attention: inputs unchanged": ("gqa_matches_attention_per_group",
                                                  "gqa_default_mask_is_none"),
    "kv_cache_bytes: result": ("kv_cache_bytes_worked_numbers",
                               "kv_cache_bytes_gqa_config_object"),
    "kv_cache_bytes: raises ValueError": ("kv_cache_bytes_worked_numbers",),
    "kv_cache_bytes: dtype": ("kv_cache_bytes_worked_numbers",),
    "kv_cache_bytes: inputs unchanged": ("kv_cache_bytes_worked_numbers",),
}
