# Empty compiler generated dependencies file for dltrain.
# This may be replaced when dependencies are built.
