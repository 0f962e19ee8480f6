/* main_dltrain.c: the dltrain program; everything is in cli.c. */
#include "dltrain.h"
int main(int argc, char **argv) { return dl_dltrain_main(argc, argv); }
