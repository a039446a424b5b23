#pragma once
// Aligned plain-text tables for the CLI.

#include <ostream>
#include <string>
#include <vector>

namespace calltrack::app {

class TextTable {
  public:
    explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    void print(std::ostream& out) const;

  private:
    std::vector<std::string> header_;
    std::vector<std::vector<std::string>> rows_;
};

}  // namespace calltrack::app
