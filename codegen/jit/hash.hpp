// Hash texts of the kernel cache: the cache keys (over short key texts and
// kernel sources) and the checksums that detect corrupt or truncated entries
// are FNV-1a 64 (lang/hash.hpp, the project's one hash). It is not a
// cryptographic hash: the cache defends against accidents (torn writes,
// truncation, bit rot), not against someone who can write the cache folder.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lang/hash.hpp"

namespace spdec::jit {

/// 16 lowercase hexadecimal digits (lang/hash.hpp).
using lang::hex64;

/// Identifies a text by content for a cache key: its FNV-1a hash and its
/// length ("<16 hex>-<bytes>"), so a collision also needs equal lengths.
[[nodiscard]] std::string content_hash(std::string_view text);

}  // namespace spdec::jit
