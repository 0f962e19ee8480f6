/* prep_subset.h: `dlprep subset` (see prep_subset.c). */
#ifndef DL_PREP_SUBSET_H
#define DL_PREP_SUBSET_H

#include "util.h"

/* argv: IN.h5 then flags; returns DL_OK or a status with the message set. */
DlStatus prep_subset(int argc, char **argv);

#endif
