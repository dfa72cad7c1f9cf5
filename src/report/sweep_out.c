#include "report/sweep_out.h"

#include <math.h>

#include "core/json.h"
#include "report/report.h"

int wp_sweep_write_json(FILE *f, const char *param, const char *phase, bool interrupted,
                        const struct wp_sweep_row *rows, size_t n)
{
    struct wp_json j;
    wp_json_init(&j, f, 1);
    wp_json_obj_begin(&j);
    wp_json_kstr(&j, "param", param);
    wp_json_kstr(&j, "phase", phase); /* NULL: whole runs */
    wp_json_kbool(&j, "interrupted", interrupted);
    wp_json_key(&j, "runs");
    wp_json_arr_begin(&j);
    const struct wp_sweep_row *first = &rows[0];
    for (size_t i = 0; i < n; i++) {
        const struct wp_sweep_row *r = &rows[i];
        if (!r->done)
            continue;
        wp_json_obj_begin(&j);
        wp_json_kstr(&j, "value", r->value);
        wp_json_kint(&j, "exit_code", r->exit_code);
        wp_json_kdouble(&j, "duration_s", r->duration_s);
        wp_json_kdouble(&j, "energy_j", r->energy_j);
        wp_json_kdouble(&j, "mean_w", r->mean_w);
        wp_json_kdouble(&j, "peak_w", r->peak_w);
        wp_json_kdouble(&j, "samples", r->samples);
        wp_json_kdouble(&j, "tokens", r->tokens);
        wp_json_kdouble(&j, "j_per_sample", r->energy_j / r->samples);
        wp_json_kdouble(&j, "j_per_token", r->energy_j / r->tokens);
        wp_json_kdouble(&j, "energy_rel", first->done ? r->energy_j / first->energy_j : NAN);
        wp_json_kdouble(&j, "duration_rel", first->done ? r->duration_s / first->duration_s : NAN);
        wp_json_obj_end(&j);
    }
    wp_json_arr_end(&j);
    wp_json_obj_end(&j);
    return wp_json_end(&j);
}

void wp_sweep_print_table(FILE *f, const char *param, const struct wp_sweep_row *rows, size_t n)
{
    fprintf(f, "\n %-12s %5s %9s %11s %8s %8s %12s %9s %8s\n", param, "exit", "time s",
            "GPU energy J", "mean W", "peak W", "J/sample|tok", "energy x", "time x");
    const struct wp_sweep_row *first = &rows[0];
    for (size_t i = 0; i < n; i++) {
        const struct wp_sweep_row *r = &rows[i];
        if (!r->done) {
            fprintf(f, " %-12s %5s   not run\n", r->value, "-");
            continue;
        }
        char per[32] = "-";
        if (isfinite(r->samples) && r->samples > 0)
            snprintf(per, sizeof(per), "%.4g/s", r->energy_j / r->samples);
        else if (isfinite(r->tokens) && r->tokens > 0)
            snprintf(per, sizeof(per), "%.4g/t", r->energy_j / r->tokens);
        /* A run without the phase asked for has no numbers: "-", never "nan". */
        char b[6][32];
        fprintf(
            f, " %-12s %5d %9s %11s %8s %8s %12s %9s %8s\n", r->value, r->exit_code,
            wp_report_num(b[0], 32, "%.2f", r->duration_s),
            wp_report_num(b[1], 32, "%.1f", r->energy_j),
            wp_report_num(b[2], 32, "%.1f", r->mean_w), wp_report_num(b[3], 32, "%.1f", r->peak_w),
            per, wp_report_num(b[4], 32, "%.3f", first->done ? r->energy_j / first->energy_j : NAN),
            wp_report_num(b[5], 32, "%.3f", first->done ? r->duration_s / first->duration_s : NAN));
    }
}
