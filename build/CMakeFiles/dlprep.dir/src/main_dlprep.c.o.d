CMakeFiles/dlprep.dir/src/main_dlprep.c.o: /work/main/src/main_dlprep.c \
 /usr/include/stdc-predef.h /work/main/include/dltrain.h
