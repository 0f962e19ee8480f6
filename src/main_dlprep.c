/* main_dlprep.c: the dlprep program; everything is in prep.c. */
#include "dltrain.h"
int main(int argc, char **argv) { return dl_dlprep_main(argc, argv); }
