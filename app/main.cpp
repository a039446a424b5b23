#include "app/cli/CliCommands.h"
#include "app/MemoryAllocator.h"

int main(int argc, char** argv) {
    calltrack::app::configureMemoryAllocator();
    return calltrack::app::runCli(argc, argv);
}
