/* The tests' entry: Criterion's own steps (criterion.h), after OpenBLAS's kernels are pinned as the command line
 * pins them (sdlab_blas_pin_kernel), so that library calls here sum as `sdlab` does on any CPU. */
#include "sdlab_blas.h"

#include <stdbool.h>
#include <stdio.h>
#include <criterion/criterion.h>

int
main(int argc, char **argv)
{
  if (sdlab_blas_pin_kernel(argv) != 0)
    fprintf(stderr, "sdlab_tests: warning: could not restart with OpenBLAS's %s kernels\n", SDLAB_BLAS_KERNEL);
  struct criterion_test_set *tests = criterion_initialize();
  int failed = 0;
  if (criterion_handle_args(argc, argv, true))
    failed = !criterion_run_all_tests(tests);
  criterion_finalize(tests);
  return failed;
}
