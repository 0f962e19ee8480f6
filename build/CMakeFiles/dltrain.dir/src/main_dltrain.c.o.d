CMakeFiles/dltrain.dir/src/main_dltrain.c.o: \
 /work/main/src/main_dltrain.c /usr/include/stdc-predef.h \
 /work/main/include/dltrain.h
