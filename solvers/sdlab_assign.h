/* sdlab_assign.h: maximum-weight one-to-one matching of rows to columns (the linear assignment problem),
 * used for MCC.
 *
 * Given weights W (rows x cols, rows <= cols) it finds an injective map row -> column maximising the total
 * weight, exactly.  Method: the shortest-augmenting-path Hungarian algorithm (O(rows^2 |C|)) on a set C of
 * candidate columns, started with each row's best few columns; its dual potentials (u, v) are then
 * checked against every column outside C (LP duality: with v_j = 0 off C the matching is optimal for the
 * whole problem iff u_i + 0 <= -W_ij for every row i and column j outside C, in the minimisation form).
 * Columns that violate the check join C and the problem is solved again.  The answer is therefore
 * certified optimal over all columns, while |C| stays near the number of rows in the usual case where
 * each row has a clear best match. */
#ifndef SDLAB_ASSIGN_H
#define SDLAB_ASSIGN_H

#include <stddef.h>

/* W: rows x cols, row-major, finite; rows <= cols; col_of_row (length rows) receives the matching and
 * *total its weight; *candidates (optional) the final |C|.  Returns 0, GSL_EINVAL or GSL_ENOMEM. */
int sdlab_assign_max(const double *W, size_t rows, size_t cols, size_t *col_of_row, double *total,
                     size_t *candidates);

#endif
