/* make fuzz (tests/fuzz/fuzz.py, issue 22): its deterministic slice against the binary under test (under make
 * check the sanitizer build, so the slice runs with ASan/UBSan there), and the harness's own power to fail: a
 * binary that crashes on one command is caught. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

TestSuite(fuzz, .init = test_dir_setup, .fini = test_dir_teardown, .timeout = 900);

static const char *
shim(void)
{
  const char *s = getenv("FUZZ_SHIM");
  cr_assert(s != NULL, "FUZZ_SHIM is not set (make test and make check set it)");
  return s;
}

/* Every family but the random-instant kills (their timing is the machine's): damaged .npy, IDX and checkpoint
 * files, bad command lines, kills at 6 write boundaries of each command, a full disk when root. */
Test(fuzz, a_deterministic_slice_finds_nothing)
{
  char cmd[8192], *out = NULL, *err = NULL;
  snprintf(cmd, sizeof cmd, "python3 tests/fuzz/fuzz.py --bin '%s' --shim '%s' --count 400 --seed 1 --jobs 1 "
           "--kill-sample 6 --families npy,idx,json,safetensors,checkpoint,params,kill,disk", test_sdlab_bin(), shim());
  int rc = test_run(cmd, &out, &err);
  cr_assert_eq(rc, 0, "the fuzz slice failed:\n%s%s", out, err);
  cr_assert(strstr(out, "fuzz: 0 failures") != NULL, "%s", out);
  free(out);
  free(err);
}

/* A binary whose tsv dies of SIGSEGV: the harness reports crashes and fails. */
Test(fuzz, the_harness_catches_a_crash)
{
  char cmd[8192], *out = NULL;
  snprintf(cmd, sizeof cmd, "printf '#!/bin/sh\\n[ \"$1\" = tsv ] && kill -SEGV $$\\nexec \"%s\" \"$@\"\\n' > '%s/crashy' "
           "&& chmod +x '%s/crashy' && python3 tests/fuzz/fuzz.py --bin '%s/crashy' --shim '%s' --count 60 --seed 1 "
           "--jobs 1 --families npy", test_sdlab_bin(), test_dir, test_dir, test_dir, shim());
  int rc = test_run(cmd, &out, NULL);
  cr_assert_eq(rc, 1, "the harness passed a crashing binary:\n%s", out);
  cr_assert(strstr(out, "[signal] killed by signal 11") != NULL, "%s", out);
  cr_assert(strstr(out, "fuzz: 0 failures") == NULL, "%s", out);
  free(out);
}
