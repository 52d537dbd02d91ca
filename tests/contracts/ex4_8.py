"""Contract of 4.8 (parameters, FLOPs and scaling laws): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "count_parameters: result": ("count_parameters_exact",),
    "count_parameters: default include_embeddings": ("count_parameters_exact",),
    "count_parameters: option include_embeddings": ("count_parameters_exact",),
    "count_parameters: raises ValueError": ("scaling_refuses_bad_input",),
    # the config dict (call_unchanged compares it before and after)
    "count_parameters: inputs unchanged": ("count_parameters_exact",),
    "flops_per_token: result": ("flops_per_token_kaplan",),
    "flops_per_token: raises ValueError": ("scaling_refuses_bad_input",),
    "flops_per_token: inputs unchanged": ("flops_per_token_kaplan",),
    "chinchilla_optimal: result": ("chinchilla_optimal_split",),
    "chinchilla_optimal: default tokens_per_param": ("chinchilla_optimal_split",),
    "chinchilla_optimal: option tokens_per_param": ("chinchilla_optimal_split",),
    "chinchilla_optimal: raises ValueError": ("chinchilla_optimal_split",
                                              "scaling_refuses_bad_input"),
    "chinchilla_optimal: inputs unchanged": NA("its arguments are two numbers, immutable"),
    "fit_power_law: result": ("fit_power_law_in_log_space",),
    "fit_power_law: raises ValueError": ("fit_power_law_in_log_space",),
    "fit_power_law: inputs unchanged": ("fit_power_law_in_log_space",),
}
