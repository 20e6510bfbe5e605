/* sdlab_cone.h: polyhedral cones, for the branch and bound's parametrisation (sdlab_bnb.h).
 *
 *   rays    the extreme rays of {w in R^n_p : <w, a_d> >= 0} from its rows, each the null vector of n_p - 1
 *           independent rows with the sign that satisfies all rows (the rows modulo the cone's lineality space
 *           when they do not span R^n_p)
 *   cover   simplicial cones covering the cone of r generators whose span has dimension d: every point of the
 *           cone lies in one (a cover suffices for a lower bound); where the generators are independent, one
 *           (all of them), else d = 2: the two generators of least and greatest angle in their plane; d = 3: the
 *           central projection of the generators onto <x, c> = 1 (c their mean) and the fan (v_0, v_t, v_t+1)
 *           over the vertices of its convex hull (Andrew's monotone chain; a point within the turn test's
 *           rounding of an edge counts as on it, so the fan covers every generator up to that rounding and has
 *           no flat triangles); d > 3: one, all of them. */
#ifndef SDLAB_CONE_H
#define SDLAB_CONE_H

#include <stddef.h>
#include <stdint.h>

/* The extreme rays of the pointed cone with rows A (m x np, row-major) as unit vectors, duplicates removed, into
 * out (max x np): their count, or (size_t)-1 when there are more than max. */
size_t sdlab_cone_rays(const double *A, size_t m, size_t np, double *out, size_t max);
/* The same modulo the lineality space L (the orthogonal complement of the rows' span): the rays of the pointed
 * cone the rows cut from L's complement; *lineal whether L is nontrivial.  (size_t)-2 when out of memory. */
size_t sdlab_cone_rays_modulo(const double *A, size_t m, size_t np, double *out, size_t max, int *lineal);

/* Simplicial cones covering the cone of the r unit generators g (r x n, nonnegative entries: a pointed cone) of
 * span dimension d, as bit masks over the generators into masks (room for r - 2, at least 1); their count. */
size_t sdlab_cone_cover(const double *g, size_t r, size_t n, size_t d, uint64_t *masks);

#endif
