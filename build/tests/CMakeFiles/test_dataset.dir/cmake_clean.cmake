file(REMOVE_RECURSE
  "CMakeFiles/test_dataset.dir/test_dataset.c.o"
  "CMakeFiles/test_dataset.dir/test_dataset.c.o.d"
  "test_dataset"
  "test_dataset.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_dataset.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
