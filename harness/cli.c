int main(void) { return 2; } /* placeholder: the real CLI lands with the client and target modules */
