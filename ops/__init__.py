"""ptfops operations tools: the command line, inventory reader and device/host tooling."""
