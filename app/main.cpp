#include "app/CliCommands.h"

int main(int argc, char** argv) {
    return calltrack::app::runCli(argc, argv);
}
