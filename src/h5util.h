/* h5util.h: HDF5 attribute helpers shared by the dataset and checkpoint files.
 * Each closes every handle it opens on every path and returns 0/NULL on any
 * failure (callers turn that into a message naming the file). Readers accept
 * any integer type and fixed- or variable-length strings, as h5py writes. */
#ifndef DL_H5UTIL_H
#define DL_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

int h5_put_attr_str(hid_t obj, const char *name, const char *value);
int h5_put_attr_strs(hid_t obj, const char *name, char *const *v, int n);
int h5_put_attr_i64(hid_t obj, const char *name, const int64_t *v, int n);   /* n == 1: scalar */
int h5_get_attr_i64(hid_t obj, const char *name, int64_t *v, int n);         /* exactly n values */
int h5_put_attr_f64(hid_t obj, const char *name, double v);                   /* scalar */
int h5_get_attr_f64(hid_t obj, const char *name, double *v);
char *h5_get_attr_str(hid_t obj, const char *name);                          /* new string or NULL */
char **h5_get_attr_strs(hid_t obj, const char *name, int *n);                /* n new strings or NULL */

/* Registers the filters dltrain decodes itself (LZF, h5py's filter 32000,
 * whose Debian plugin does not load); once per process, thread-safe. */
void h5_register_filters(void);
#define H5_FILTER_LZF 32000

/* 1 when dataset dset needs a filter this HDF5 cannot decode, with msg
 * saying which and the Debian package that provides it; else 0. */
int h5_filters_missing(hid_t dset, char *msg, size_t cap);

#endif
