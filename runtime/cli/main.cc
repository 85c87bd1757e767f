// kata-runtime: an OCI runtime (runc's command line) that runs containers in VMs.
#include "runtime/cli/cli.h"

int main(int argc, char** argv) { return kata::cli::runCli(argc, argv); }
