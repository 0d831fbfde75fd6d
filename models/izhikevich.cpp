namespace models { int izhikevich_placeholder = 0; }
