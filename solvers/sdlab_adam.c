/* sdlab_adam.c: Adam in float32 (sdlab_adam.h). */
#include "sdlab_adam.h"

#include <math.h>

sdlab_adam_coef
sdlab_adam_coef_of(double lr, double beta1, double beta2, size_t t)
{
  double c1, c2;
  sdlab_adam_bias(beta1, beta2, t, &c1, &c2);
  return (sdlab_adam_coef){(float)(lr / c1), (float)(1.0 / c2), (float)lr};
}

void
sdlab_adam_bias(double beta1, double beta2, size_t t, double *c1, double *c2)
{
  *c1 = 1 - pow(beta1, (double)t);
  *c2 = 1 - pow(beta2, (double)t);
}

void
sdlab_adam_update_double(double *w, double *m, double *v, const double *g, size_t n, double lr, double b1, double b2,
                         double eps, double c1, double c2)
{
  for (size_t a = 0; a < n; a++) {
    const double ga = g[a];
    m[a] = b1 * m[a] + (1 - b1) * ga;
    v[a] = b2 * v[a] + (1 - b2) * ga * ga;
    w[a] -= lr * (m[a] / c1) / (sqrt(v[a] / c2) + eps);
  }
}

__attribute__((target_clones("avx512f", "default"))) void
sdlab_adam_update(float *w, float *m, float *v, const float *g, float f, size_t n, float b1, float b2, float eps,
                  sdlab_adam_coef k)
{
  for (size_t a = 0; a < n; a++) {
    const float ga = g == NULL ? 0.0f : f == 1.0f ? g[a] : g[a] * f;
    m[a] = b1 * m[a] + (1 - b1) * ga;
    v[a] = b2 * v[a] + (1 - b2) * ga * ga;
    w[a] -= k.a * m[a] / (sqrtf(v[a] * k.ic2) + eps);
  }
}
