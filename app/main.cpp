#include "app/MemoryAllocator.h"
#include "app/cli/CliCommands.h"

int main(int argc, char** argv) {
    calltrack::app::configureMemoryAllocator();
    return calltrack::app::runCli(argc, argv);
}
