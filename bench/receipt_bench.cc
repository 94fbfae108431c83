// Placeholder until the receipt benchmark lands (same session).
int main() { return 0; }
