file(REMOVE_RECURSE
  "CMakeFiles/dltrain.dir/src/main_dltrain.c.o"
  "CMakeFiles/dltrain.dir/src/main_dltrain.c.o.d"
  "dltrain"
  "dltrain.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/dltrain.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
