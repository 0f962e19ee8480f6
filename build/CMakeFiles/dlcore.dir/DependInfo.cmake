
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/src/checkpoint.c" "CMakeFiles/dlcore.dir/src/checkpoint.c.o" "gcc" "CMakeFiles/dlcore.dir/src/checkpoint.c.o.d"
  "/work/main/src/cli.c" "CMakeFiles/dlcore.dir/src/cli.c.o" "gcc" "CMakeFiles/dlcore.dir/src/cli.c.o.d"
  "/work/main/src/data/dataset.c" "CMakeFiles/dlcore.dir/src/data/dataset.c.o" "gcc" "CMakeFiles/dlcore.dir/src/data/dataset.c.o.d"
  "/work/main/src/dist.c" "CMakeFiles/dlcore.dir/src/dist.c.o" "gcc" "CMakeFiles/dlcore.dir/src/dist.c.o.d"
  "/work/main/src/flags.c" "CMakeFiles/dlcore.dir/src/flags.c.o" "gcc" "CMakeFiles/dlcore.dir/src/flags.c.o.d"
  "/work/main/src/h5util.c" "CMakeFiles/dlcore.dir/src/h5util.c.o" "gcc" "CMakeFiles/dlcore.dir/src/h5util.c.o.d"
  "/work/main/src/layers/activation.c" "CMakeFiles/dlcore.dir/src/layers/activation.c.o" "gcc" "CMakeFiles/dlcore.dir/src/layers/activation.c.o.d"
  "/work/main/src/layers/batchnorm.c" "CMakeFiles/dlcore.dir/src/layers/batchnorm.c.o" "gcc" "CMakeFiles/dlcore.dir/src/layers/batchnorm.c.o.d"
  "/work/main/src/layers/conv.c" "CMakeFiles/dlcore.dir/src/layers/conv.c.o" "gcc" "CMakeFiles/dlcore.dir/src/layers/conv.c.o.d"
  "/work/main/src/layers/dense.c" "CMakeFiles/dlcore.dir/src/layers/dense.c.o" "gcc" "CMakeFiles/dlcore.dir/src/layers/dense.c.o.d"
  "/work/main/src/layers/dropout.c" "CMakeFiles/dlcore.dir/src/layers/dropout.c.o" "gcc" "CMakeFiles/dlcore.dir/src/layers/dropout.c.o.d"
  "/work/main/src/layers/layer.c" "CMakeFiles/dlcore.dir/src/layers/layer.c.o" "gcc" "CMakeFiles/dlcore.dir/src/layers/layer.c.o.d"
  "/work/main/src/layers/loss.c" "CMakeFiles/dlcore.dir/src/layers/loss.c.o" "gcc" "CMakeFiles/dlcore.dir/src/layers/loss.c.o.d"
  "/work/main/src/layers/pool.c" "CMakeFiles/dlcore.dir/src/layers/pool.c.o" "gcc" "CMakeFiles/dlcore.dir/src/layers/pool.c.o.d"
  "/work/main/src/model.c" "CMakeFiles/dlcore.dir/src/model.c.o" "gcc" "CMakeFiles/dlcore.dir/src/model.c.o.d"
  "/work/main/src/optim.c" "CMakeFiles/dlcore.dir/src/optim.c.o" "gcc" "CMakeFiles/dlcore.dir/src/optim.c.o.d"
  "/work/main/src/prep.c" "CMakeFiles/dlcore.dir/src/prep.c.o" "gcc" "CMakeFiles/dlcore.dir/src/prep.c.o.d"
  "/work/main/src/train.c" "CMakeFiles/dlcore.dir/src/train.c.o" "gcc" "CMakeFiles/dlcore.dir/src/train.c.o.d"
  "/work/main/src/util.c" "CMakeFiles/dlcore.dir/src/util.c.o" "gcc" "CMakeFiles/dlcore.dir/src/util.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
