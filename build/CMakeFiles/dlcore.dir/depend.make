# Empty dependencies file for dlcore.
# This may be replaced when dependencies are built.
