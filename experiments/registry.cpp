namespace experiments { int registry_placeholder = 0; }
