file(REMOVE_RECURSE
  "CMakeFiles/dlprep.dir/src/main_dlprep.c.o"
  "CMakeFiles/dlprep.dir/src/main_dlprep.c.o.d"
  "dlprep"
  "dlprep.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/dlprep.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
