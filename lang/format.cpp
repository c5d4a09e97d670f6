#include "lang/format.hpp"

namespace spdec::lang {

std::string format(const ast::Module& module) { return module.file ? module.file->text() : ""; }

}  // namespace spdec::lang
