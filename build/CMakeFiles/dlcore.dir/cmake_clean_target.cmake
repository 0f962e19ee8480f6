file(REMOVE_RECURSE
  "libdlcore.a"
)
