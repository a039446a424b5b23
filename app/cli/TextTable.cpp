#include "app/cli/TextTable.h"

#include <algorithm>

namespace calltrack::app {

void TextTable::print(std::ostream& out) const {
    std::vector<size_t> width(header_.size(), 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (size_t i = 0; i < row.size() && i < width.size(); ++i)
            width[i] = std::max(width[i], row[i].size());
    };
    measure(header_);
    for (const auto& r : rows_) measure(r);
    auto emit = [&](const std::vector<std::string>& row) {
        for (size_t i = 0; i < width.size(); ++i) {
            const std::string cell = i < row.size() ? row[i] : "";
            out << cell;
            if (i + 1 < width.size()) out << std::string(width[i] - cell.size() + 2, ' ');
        }
        out << '\n';
    };
    emit(header_);
    for (const auto& r : rows_) emit(r);
}

}  // namespace calltrack::app
