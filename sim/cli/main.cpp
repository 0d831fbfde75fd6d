#include <cstdio>
int main() { std::puts("snnsim: command line under construction"); return 0; }
