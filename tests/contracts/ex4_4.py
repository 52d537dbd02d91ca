"""Contract of 4.4 (greedy, top-k, top-p, sampling): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

DISTRIBUTION = "sample_follows_filtered_distribution"

CONTRACT = {
    "greedy: result": ("greedy_argmax_over_vocabulary",),
    "greedy: inputs unchanged": ("greedy_argmax_over_vocabulary",),
    "top_k_filter: result": ("top_k_filter_values", "top_k_keeps_ties"),
    "top_k_filter: raises ValueError": ("top_k_filter_values",),
    "top_k_filter: dtype": ("top_k_filter_values",),
    "top_k_filter: inputs unchanged": ("top_k_filter_values", "top_k_keeps_ties"),
    "top_p_filter: result": ("top_p_filter_values", "top_p_keeps_at_least_one_token",
                             "top_p_keeps_ties"),
    "top_p_filter: raises ValueError": ("top_p_filter_values",),
    "top_p_filter: dtype": ("top_p_filter_values", "large_logits_do_not_overflow"),
    "top_p_filter: inputs unchanged": ("top_p_filter_values", "top_p_keeps_ties"),
    "sample_next_token: result": (DISTRIBUTION, "sample_draw_is_reproducible"),
    # its first draws pass no temperature / top_k / top_p: softmax(x) itself must come out
    "sample_next_token: default temperature": (DISTRIBUTION,),
    "sample_next_token: option temperature": (DISTRIBUTION, "sample_temperature_before_filters"),
    "sample_next_token: default top_k": (DISTRIBUTION,),
    "sample_next_token: option top_k": (DISTRIBUTION,),
    "sample_next_token: default top_p": (DISTRIBUTION,),
    "sample_next_token: option top_p": (DISTRIBUTION, "sample_temperature_before_filters"),
    "sample_next_token: raises ValueError": ("sample_temperature_before_filters",),
    "sample_next_token: inputs unchanged": (DISTRIBUTION,),
}
