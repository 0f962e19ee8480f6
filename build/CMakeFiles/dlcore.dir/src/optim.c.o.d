CMakeFiles/dlcore.dir/src/optim.c.o: /work/main/src/optim.c \
 /usr/include/stdc-predef.h /work/main/src/optim.h \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h
