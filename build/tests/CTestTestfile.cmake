# CMake generated Testfile for 
# Source directory: /work/main/tests
# Build directory: /work/main/build/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test(test_dataset "/work/main/build/tests/test_dataset")
set_tests_properties(test_dataset PROPERTIES  ENVIRONMENT "OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1" WORKING_DIRECTORY "/work/main/build" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;12;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test(test_layers "/work/main/build/tests/test_layers")
set_tests_properties(test_layers PROPERTIES  ENVIRONMENT "OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1" WORKING_DIRECTORY "/work/main/build" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;12;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test(test_model "/work/main/build/tests/test_model")
set_tests_properties(test_model PROPERTIES  ENVIRONMENT "OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1" WORKING_DIRECTORY "/work/main/build" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;12;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test(test_reference "/work/main/build/tests/test_reference")
set_tests_properties(test_reference PROPERTIES  ENVIRONMENT "OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1" WORKING_DIRECTORY "/work/main/build" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;12;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test(cli_prep "bash" "/work/main/tests/cli_prep.sh" "/work/main/build" "/work/main")
set_tests_properties(cli_prep PROPERTIES  WORKING_DIRECTORY "/work/main/build" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;20;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test(cli_train "bash" "/work/main/tests/cli_train.sh" "/work/main/build" "/work/main")
set_tests_properties(cli_train PROPERTIES  WORKING_DIRECTORY "/work/main/build" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;20;add_test;/work/main/tests/CMakeLists.txt;0;")
