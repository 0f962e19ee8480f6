/* test_run.c: the run directory's pieces that files depend on: the JSON
 * string writer (escapes, invalid UTF-8, cuts only between characters),
 * the durable rewrite (the old file survives a failed write), and what
 * counts as a directory holding a run. Expected strings are written out by
 * hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "run/run.h"

static void test_json_escapes(void **state) {
    (void)state;
    char buf[128];
    assert_string_equal(run_json_str(buf, sizeof buf, "a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_string_equal(run_json_str(buf, sizeof buf, "tab\there\nnl\x01"), "\"tab\\u0009here\\u000anl\\u0001\"");
    assert_string_equal(run_json_str(buf, sizeof buf, NULL), "\"\"");
    /* valid multi-byte characters pass through: é (2 bytes), € (3), 😀 (4) */
    assert_string_equal(run_json_str(buf, sizeof buf, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    /* a lone continuation byte, an overlong '/', a surrogate, a cut sequence: U+FFFD each byte */
    assert_string_equal(run_json_str(buf, sizeof buf, "a\x80" "b"), "\"a\xef\xbf\xbd" "b\"");
    assert_string_equal(run_json_str(buf, sizeof buf, "\xc0\xaf"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
    assert_string_equal(run_json_str(buf, sizeof buf, "\xed\xa0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    assert_string_equal(run_json_str(buf, sizeof buf, "x\xe2\x82"), "\"x\xef\xbf\xbd\xef\xbf\xbd\"");
}

static void test_json_cut_at_characters(void **state) {
    (void)state;
    char buf[9];   /* room for the quotes, NUL and 6 bytes */
    /* "ab" + € (3 bytes) = 5 bytes fit; the next € would not: cut before it */
    assert_string_equal(run_json_str(buf, sizeof buf, "ab\xe2\x82\xac\xe2\x82\xac"), "\"ab\xe2\x82\xac\"");
    /* an escape is never cut in half either: \u0001 takes 6 */
    assert_string_equal(run_json_str(buf, sizeof buf, "a\x01"), "\"a\"");
    char small[3];
    assert_string_equal(run_json_str(small, sizeof small, "abc"), "\"\"");
}

static char dir[] = "/tmp/dltrain_test_run_XXXXXX";

static void test_write_file_and_run_detection(void **state) {
    (void)state;
    assert_non_null(mkdtemp(dir));
    char path[256], name[32];
    assert_int_equal(run_dir_has_run(dir, name, sizeof name), 0);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    assert_int_equal(run_write_file(path, "epoch\n", 6), DL_OK);
    assert_int_equal(run_dir_has_run(dir, name, sizeof name), 0);   /* a header only: died in epoch 1 */
    assert_int_equal(run_write_file(path, "epoch\n1\n", 8), DL_OK);
    assert_int_equal(run_dir_has_run(dir, name, sizeof name), 1);
    assert_string_equal(name, "metrics.csv");
    FILE *f = fopen(path, "r");
    char got[16] = "";
    assert_int_equal(fread(got, 1, sizeof got - 1, f), 8);
    fclose(f);
    assert_string_equal(got, "epoch\n1\n");
    snprintf(path, sizeof path, "%s/metrics.csv.partial", dir);
    assert_int_equal(access(path, F_OK), -1);   /* no temporary left behind */
    /* a write that cannot happen (its directory is gone) fails and names the file */
    snprintf(path, sizeof path, "%s/nope/metrics.csv", dir);
    assert_int_equal(run_write_file(path, "x", 1), DL_EIO);
    assert_non_null(strstr(dl_errmsg(), "nope/metrics.csv"));
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    remove(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escapes),
        cmocka_unit_test(test_json_cut_at_characters),
        cmocka_unit_test(test_write_file_and_run_detection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
