// Placeholder until the daemon wiring lands (same session).
int main() { return 0; }
