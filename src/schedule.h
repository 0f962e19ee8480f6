/* schedule.h: learning-rate schedules as pure functions of the step, so a
 * resumed run and every rank get the same lr with no scheduler state to
 * save. Each follows a PyTorch 1.13 scheduler stepped once per optimizer
 * step (checked against tests/reference/fixtures/optim_schedules.h5):
 *   constant  lr
 *   step      StepLR: lr * gamma^floor(t / step_size)
 *   cosine    CosineAnnealingLR(T_max = total_steps, eta_min = min_lr), in
 *             its closed form; from total_steps on it stays at min_lr
 *             (PyTorch's would rise again along the next half period)
 *   onecycle  OneCycleLR(max_lr = lr, total_steps, pct_start, div_factor,
 *             final_div_factor, anneal_strategy='cos', three_phase=False);
 *             from total_steps on it stays at its final value
 *             (PyTorch raises). Momentum is not cycled: as
 *             cycle_momentum=False in PyTorch.
 * Warmup (constant, step, cosine): for step < warmup_steps the lr is
 * lr * (step+1) / warmup_steps, reaching lr on the last warmup step; the
 * schedule then runs on t = step - warmup_steps over total_steps -
 * warmup_steps steps, so a cosine still ends at min_lr on the last step and
 * a StepLR's first drop comes step_size steps after the warmup. onecycle has
 * its own warmup (pct_start); schedule_check rejects warmup_steps > 0 for it.
 * Not here: per-epoch stepping, ReduceLROnPlateau, three-phase onecycle. */
#ifndef DL_SCHEDULE_H
#define DL_SCHEDULE_H

#include <stdint.h>

#include "dltrain.h"

typedef enum { SCHED_CONSTANT, SCHED_STEP, SCHED_COSINE, SCHED_ONECYCLE } SchedKind;

typedef struct {
    SchedKind kind;
    float lr;               /* base lr; onecycle: max_lr */
    int64_t total_steps;    /* cosine, onecycle: optimizer steps in the run */
    int64_t warmup_steps;   /* constant, step, cosine; 0: none */
    int64_t step_size;      /* step: steps between drops */
    float gamma;            /* step: factor per drop */
    float pct_start;        /* onecycle: fraction of steps rising (0.3) */
    float div_factor;       /* onecycle: initial lr = lr / div_factor (25) */
    float final_div_factor; /* onecycle: final lr = initial lr / final_div_factor (1e4) */
    float min_lr;           /* cosine: eta_min */
} Schedule;

/* A schedule of the given kind with PyTorch's defaults: gamma 0.1,
 * pct_start 0.3, div_factor 25, final_div_factor 1e4, min_lr 0, no warmup;
 * step_size is 0 and must be set for SCHED_STEP. */
Schedule schedule_init(SchedKind kind, float lr, int64_t total_steps);

/* DL_OK, or DL_EARG naming the bad field and its bounds. Call it once at
 * startup: schedule_lr assumes a schedule that passed. */
DlStatus schedule_check(const Schedule *s);

/* The lr of optimizer step `step` (0-based). */
float schedule_lr(const Schedule *s, int64_t step);

/* "constant", "step", "cosine" or "onecycle" -> *k; DL_EARG listing the
 * choices otherwise. */
DlStatus schedule_parse_kind(const char *name, SchedKind *k);
/* The name schedule_parse_kind accepts for k (static string). */
const char *schedule_kind_name(SchedKind k);

#endif
