"""kerastack-training: training tools for kerastack models on Keras 3.

Optimizer wrappers (`GradientAccumulation`, `LayerAdaptation`,
`LearningRateMultipliers`), schedules (`WarmupLinearDecay`,
`PiecewiseLinear`, `AccumulationSchedule`), weight averaging
(`ema_weights`), BERT's optimizer recipe (`bert_optimizer`), and multi-task
training (`BertMultiTask` on any encoder backbone, `Task`, task-weight
schedules evaluated inside the compiled step or set by a callback).
"""

from kerastack.training.multitask import (
    BertMultiTask,
    Task,
    TaskWeightSchedule,
    TaskWeightScheduler,
    TaskWeightShift,
    default_task_loss,
    first_piece_mask,
)
from kerastack.training.optimization import WarmupLinearDecay, bert_optimizer
from kerastack.training.optimizers import (
    AccumulationSchedule,
    GradientAccumulation,
    LayerAdaptation,
    LearningRateMultipliers,
    OptimizerWrapper,
    PiecewiseLinear,
    ema_weights,
    layer_decay_multipliers,
)

__all__ = [
    "AccumulationSchedule",
    "BertMultiTask",
    "GradientAccumulation",
    "LayerAdaptation",
    "LearningRateMultipliers",
    "OptimizerWrapper",
    "PiecewiseLinear",
    "Task",
    "TaskWeightSchedule",
    "TaskWeightScheduler",
    "TaskWeightShift",
    "WarmupLinearDecay",
    "bert_optimizer",
    "default_task_loss",
    "ema_weights",
    "first_piece_mask",
    "layer_decay_multipliers",
]
