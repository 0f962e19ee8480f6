file(REMOVE_RECURSE
  "CMakeFiles/test_layers.dir/test_layers.c.o"
  "CMakeFiles/test_layers.dir/test_layers.c.o.d"
  "test_layers"
  "test_layers.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_layers.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
