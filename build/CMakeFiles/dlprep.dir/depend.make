# Empty dependencies file for dlprep.
# This may be replaced when dependencies are built.
