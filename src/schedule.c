/* schedule.c: the lr of a step, in closed form (see schedule.h for the
 * PyTorch scheduler each kind follows). Computed in double from the float
 * settings, as PyTorch computes in Python floats, and rounded once.
 * PyTorch's StepLR and CosineAnnealingLR update the lr recursively
 * (lr *= gamma, a ratio of cosines); the closed forms agree to rounding. */
#include "schedule.h"

#include <math.h>
#include <string.h>

#include "util.h"

static const double PI = 3.14159265358979323846;

Schedule schedule_init(SchedKind kind, float lr, int64_t total_steps) {
    return (Schedule){ .kind = kind, .lr = lr, .total_steps = total_steps, .gamma = 0.1f, .pct_start = 0.3f,
                       .div_factor = 25.0f, .final_div_factor = 1e4f };
}

DlStatus schedule_check(const Schedule *s) {
    if (!((int)s->kind >= SCHED_CONSTANT && (int)s->kind <= SCHED_ONECYCLE))
        return dl_fail(DL_EARG, "unknown lr schedule kind %d: choose constant, step, cosine or onecycle", (int)s->kind);
    const char *name = schedule_kind_name(s->kind);
    if (!(isfinite(s->lr) && s->lr >= 0.0f))
        return dl_fail(DL_EARG, "%s schedule: lr must be a finite number >= 0, got %g", name, s->lr);
    if (s->warmup_steps < 0)
        return dl_fail(DL_EARG, "%s schedule: warmup_steps must be >= 0, got %lld", name, (long long)s->warmup_steps);
    switch (s->kind) {
    case SCHED_CONSTANT: return DL_OK;
    case SCHED_STEP:
        if (s->step_size < 1)
            return dl_fail(DL_EARG, "step schedule: step_size (steps between lr drops) must be >= 1, got %lld",
                           (long long)s->step_size);
        if (!(isfinite(s->gamma) && s->gamma > 0.0f))
            return dl_fail(DL_EARG, "step schedule: gamma (factor per drop) must be > 0, got %g", s->gamma);
        return DL_OK;
    case SCHED_COSINE:
        if (s->total_steps <= s->warmup_steps)
            return dl_fail(DL_EARG, "cosine schedule: total_steps (%lld) must exceed warmup_steps (%lld)",
                           (long long)s->total_steps, (long long)s->warmup_steps);
        if (!(isfinite(s->min_lr) && s->min_lr >= 0.0f))
            return dl_fail(DL_EARG, "cosine schedule: min_lr must be a finite number >= 0, got %g", s->min_lr);
        return DL_OK;
    case SCHED_ONECYCLE: {
        if (s->warmup_steps != 0)
            return dl_fail(DL_EARG, "onecycle schedule: warmup_steps must be 0 (onecycle warms up by itself over "
                           "pct_start * total_steps steps); got %lld", (long long)s->warmup_steps);
        if (!(s->pct_start > 0.0f && s->pct_start < 1.0f))
            return dl_fail(DL_EARG, "onecycle schedule: pct_start must be in (0, 1), got %g", s->pct_start);
        if (!(isfinite(s->div_factor) && s->div_factor > 0.0f && isfinite(s->final_div_factor) &&
              s->final_div_factor > 0.0f))
            return dl_fail(DL_EARG, "onecycle schedule: div_factor and final_div_factor must be > 0, got %g and %g",
                           s->div_factor, s->final_div_factor);
        /* both phases need a length > 0 (PyTorch divides by it) */
        double end1 = (double)s->pct_start * (double)s->total_steps - 1.0;
        if (!(end1 > 0.0 && end1 < (double)s->total_steps - 1.0))
            return dl_fail(DL_EARG, "onecycle schedule: pct_start * total_steps must be between 1 and total_steps - 1 "
                           "(pct_start %g, total_steps %lld): raise total_steps or change pct_start",
                           s->pct_start, (long long)s->total_steps);
        return DL_OK;
    }
    }
    return DL_OK;   /* not reached: every kind returns above */
}

/* OneCycleLR's _annealing_cos, same operation order. */
static double anneal_cos(double start, double end, double pct) {
    return end + (start - end) / 2.0 * (cos(PI * pct) + 1.0);
}

/* OneCycleLR.get_lr, two phases: up from lr/div_factor to lr until step
 * end1 = pct_start*total_steps - 1, then down to the final lr at step
 * total_steps - 1. */
static double onecycle_lr(const Schedule *s, int64_t step) {
    double max_lr = s->lr, initial = max_lr / s->div_factor, final = initial / s->final_div_factor;
    double end1 = (double)s->pct_start * (double)s->total_steps - 1.0, end2 = (double)s->total_steps - 1.0;
    double x = (double)step;
    if (x <= end1) return anneal_cos(initial, max_lr, x / end1);
    if (x >= end2) return final;
    return anneal_cos(max_lr, final, (x - end1) / (end2 - end1));
}

float schedule_lr(const Schedule *s, int64_t step) {
    DL_CHECK(step >= 0);
    if (s->kind == SCHED_ONECYCLE) return (float)onecycle_lr(s, step);
    double lr = s->lr;
    if (step < s->warmup_steps) return (float)(lr * (double)(step + 1) / (double)s->warmup_steps);
    int64_t t = step - s->warmup_steps;
    switch (s->kind) {
    case SCHED_CONSTANT: return s->lr;
    case SCHED_STEP:
        DL_CHECK(s->step_size >= 1);
        return (float)(lr * pow((double)s->gamma, (double)(t / s->step_size)));
    case SCHED_COSINE: {
        int64_t T = s->total_steps - s->warmup_steps;
        DL_CHECK(T >= 1);
        if (t >= T) return s->min_lr;
        double eta_min = s->min_lr;
        return (float)(eta_min + (lr - eta_min) * (1.0 + cos(PI * (double)t / (double)T)) / 2.0);
    }
    case SCHED_ONECYCLE: break;
    }
    dl_panic(__FILE__, __LINE__, "unknown schedule kind");
}

static const char *const SCHED_NAMES[] = { [SCHED_CONSTANT] = "constant", [SCHED_STEP] = "step",
                                           [SCHED_COSINE] = "cosine", [SCHED_ONECYCLE] = "onecycle" };

DlStatus schedule_parse_kind(const char *name, SchedKind *k) {
    for (int i = 0; i < (int)(sizeof SCHED_NAMES / sizeof *SCHED_NAMES); i++)
        if (strcmp(name, SCHED_NAMES[i]) == 0) {
            *k = (SchedKind)i;
            return DL_OK;
        }
    return dl_fail(DL_EARG, "unknown lr schedule '%s': choose constant, step, cosine or onecycle", name);
}

const char *schedule_kind_name(SchedKind k) {
    DL_CHECK((int)k >= 0 && (int)k < (int)(sizeof SCHED_NAMES / sizeof *SCHED_NAMES));
    return SCHED_NAMES[k];
}
