"""Contract of 5.3 (mixture of experts): clause -> the checks that enforce it."""

from .clauses import NA, Gap  # noqa: F401

CONTRACT = {
    "moe_router: result": ("router_probabilities_and_top_k", "router_ties_go_to_the_lower_index"),
    "moe_router: raises ValueError": ("moe_refuses_bad_input",),
    "moe_router: dtype": ("moe_keeps_float32",),
    "moe_router: inputs unchanged": ("router_probabilities_and_top_k",),
    "moe_layer: result": ("moe_layer_values", "moe_layer_runs_only_routed_tokens"),
    "moe_layer: raises ValueError": ("moe_refuses_bad_input",),
    "moe_layer: dtype": ("moe_keeps_float32",),
    "moe_layer: inputs unchanged": ("moe_layer_values",),
    "moe_layer_backward: result": ("moe_layer_backward_dx", "moe_layer_backward_router",
                                   "moe_layer_backward_experts"),
    # called without drouter_probs in the three checks above: the output's gradient alone
    "moe_layer_backward: default drouter_probs": ("moe_layer_backward_router",),
    "moe_layer_backward: option drouter_probs": ("moe_layer_backward_adds_drouter_probs",),
    # dout is random (not ones) in every finite-difference comparison
    "moe_layer_backward: upstream gradient": ("moe_layer_backward_dx",
                                              "moe_layer_backward_experts"),
    "moe_layer_backward: dtype": ("moe_keeps_float32",),
    "moe_layer_backward: inputs unchanged": ("moe_layer_backward_dx",
                                             "moe_layer_backward_adds_drouter_probs"),
    "load_balancing_loss: result": ("load_balancing_loss_values",),
    "load_balancing_loss: raises ValueError": ("moe_refuses_bad_input",),
    "load_balancing_loss: dtype": ("moe_keeps_float32",),
    "load_balancing_loss: inputs unchanged": ("load_balancing_loss_values",),
    "load_balancing_loss_backward: result": ("load_balancing_loss_backward_values",),
    # dloss = 0.7: a backward that ignores it is named
    "load_balancing_loss_backward: upstream gradient": ("load_balancing_loss_backward_values",),
    "load_balancing_loss_backward: dtype": ("moe_keeps_float32",),
    "load_balancing_loss_backward: inputs unchanged": ("load_balancing_loss_backward_values",),
}
